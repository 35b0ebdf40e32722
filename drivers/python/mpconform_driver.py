# -*- coding: utf-8 -*-
"""mpconform's Python driver (drivers/PROTOCOL.md, protocol 1).

The harness starts this file once per clause run as

    INTERPRETER mpconform_driver.py --protocol 1 [--module NAME]

and sends it, one JSON line at a time on fd 3, the serde JSON of the Rust
`Call` enum (wire/src/call.rs, program.rs, ipc.rs, value.rs); the driver
answers each on fd 4. Every call is carried out with the real module under
test (`multiprocessing`, or `billiard` / `multiprocess` given by `--module`)
and the real `os` functions, so that what the clauses measure is that module
on this interpreter, not this file.

What the driver adds itself never goes through the module under test:
children wait at gates and send reports, both over anonymous pipes that the
driver holds and that every process reaches by path, as /proc/DRIVER/fd/N,
so they work under fork, spawn and forkserver alike with nothing on disk
(no mkfifo, no flock: a port's os module may lack both). A gate is a pipe
a waiter polls until the driver writes its one byte, which nobody reads; a
report is a line cut into frames of at most PIPE_BUF bytes, each written
in one write(2), so frames from several processes never interleave.

The module under test is reached only through its public API and the
objects that API returns (drivers/PROTOCOL.md, "What a driver may look
at"): never by the module's name, so a wrapper that re-exports
multiprocessing gets exactly multiprocessing's verdicts.

The same file runs on CPython 2.7 and 3.6+ and on PyPy 3, with the standard
library only. It is imported again in every spawn and forkserver child (as
`__mp_main__`), so nothing runs at import time beyond cheap imports and
definitions.
"""
from __future__ import print_function

import errno
import gc
import json
import os
import select
import sys
import weakref

PY2 = sys.version_info[0] == 2
if PY2:
    text_type = unicode  # noqa: F821 (2.7 only)
    int_types = (int, long)  # noqa: F821 (2.7 only)
    binary_type = str
else:
    text_type = str
    int_types = (int,)
    binary_type = bytes

REQUESTS_FD = 3
REPLIES_FD = 4

# The driver's own state (_state()). Set only in the driver process by
# main(); a child made by fork inherits it (and so knows it must close fds 3
# and 4), a spawn or forkserver child imports this file afresh and sees None.
# It is kept on the sys module, not in a global of this file: a pickler that
# copies this file's functions by value (loky's cloudpickle does, for
# __main__) would copy a global they name into every child, and with it every
# object the driver holds (a Value's mmap, which cannot be pickled).
_STATE_KEY = '_mpconform_state'


def _state():
    return sys.__dict__.get(_STATE_KEY)

# The API under test, opened once per process: (module, context) -> object.
_APIS = {}


def _api(name, context=None):
    """The object that plays multiprocessing: the module the harness names,
    or, with a context, what that module's get_context(context) returns."""
    key = (name, context)
    api = _APIS.get(key)
    if api is None:
        import importlib
        api = importlib.import_module(name)
        if context is not None:
            api = api.get_context(_native(context))
        _APIS[key] = api
    return api


def _monotonic():
    import time
    return getattr(time, 'monotonic', time.time)()


class Unsupported(Exception):
    """The module or interpreter lacks what the call needs."""


class Broken(Exception):
    """The driver cannot make sense of a request (unknown handle, bad JSON)."""


class Timeout(Exception):
    """A report or a read the clause waited for did not come in time."""


# ---------------------------------------------------------------------------
# Small os-level helpers


def _native(s):
    """A str of this interpreter's kind (2.7 wants bytes names for classes,
    modules and process names)."""
    if PY2 and isinstance(s, text_type):
        return s.encode('utf-8')
    return s


def _as_text(s):
    if isinstance(s, binary_type) and not isinstance(s, text_type):
        return s.decode('utf-8', 'replace')
    return s


def _errno_of(e):
    n = getattr(e, 'errno', None)
    if n is None and getattr(e, 'args', None):
        n = e.args[0]
    return n


def _set_cloexec(fd):
    set_inheritable = getattr(os, 'set_inheritable', None)
    if set_inheritable is not None:
        set_inheritable(fd, False)
        return
    try:
        import fcntl  # 2.7 has no os.set_inheritable
    except ImportError:
        return
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)


def _write_all(fd, data):
    view = memoryview(data)
    while len(view):
        try:
            n = os.write(fd, view)
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            raise
        view = view[n:]


def _readable(fd, timeout):
    """Whether a read on fd would not block (data, end of file) within
    timeout seconds (None: wait as long as it takes)."""
    import math
    if not hasattr(select, 'poll'):
        return _readable_by_select(fd, timeout)
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    deadline = None if timeout is None else _monotonic() + max(0.0, timeout)
    while True:
        if deadline is None:
            ms = -1
        else:
            ms = max(0, int(math.ceil((deadline - _monotonic()) * 1000)))
        try:
            events = poller.poll(ms)
        except (select.error, OSError) as e:  # select.error is no OSError on 2.7
            if _errno_of(e) == errno.EINTR:
                continue
            raise
        for _, ev in events:
            if ev & select.POLLNVAL:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return bool(events)


def _readable_by_select(fd, timeout):
    """_readable for an interpreter whose select module has no poll()."""
    deadline = None if timeout is None else _monotonic() + max(0.0, timeout)
    while True:
        left = None if deadline is None else max(0.0, deadline - _monotonic())
        try:
            ready, _, _ = select.select([fd], [], [], left)
        except (select.error, OSError) as e:
            if _errno_of(e) == errno.EINTR:
                continue
            raise
        return bool(ready)


def _fd_path(fd):
    """The path by which any process of this user opens the file behind fd
    anew (a new open file description), while this process keeps it open."""
    return '/proc/%d/fd/%d' % (os.getpid(), fd)


def _pipe_by_path():
    """An anonymous pipe this process keeps both ends of, close-on-exec,
    and the paths by which any process of this user opens its read end and
    its write end: (read fd, write fd, read path, write path)."""
    r, w = os.pipe()
    _set_cloexec(r)
    _set_cloexec(w)
    return r, w, _fd_path(r), _fd_path(w)


def _nameless_file():
    """A regular file open read-write here and unlinked: (fd, path)."""
    import tempfile
    fd, name = tempfile.mkstemp(prefix='mpconform-')
    os.unlink(name)
    _set_cloexec(fd)
    return fd, _fd_path(fd)


def _read_whole(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def _close_protocol_fds():
    """In a child forked from the driver: close fds 3 and 4 once per line of
    descent (a grandchild must not close whatever reuses those numbers)."""
    st = _state()
    if st is None or st.fds_closed:
        return
    st.fds_closed = True
    for fd in (REQUESTS_FD, REPLIES_FD):
        try:
            os.close(fd)
        except OSError:
            pass


def _atexit_clear():
    import atexit
    clear = getattr(atexit, '_clear', None)
    if clear is not None:
        clear()
    elif hasattr(atexit, '_exithandlers'):
        del atexit._exithandlers[:]


def _atexit_run():
    import atexit
    run = getattr(atexit, '_run_exitfuncs', None)
    if run is not None:
        run()


# ---------------------------------------------------------------------------
# JSON: serde's shapes, written by hand so that large bytes values (a 1 MiB
# message is a list of a million ints) cost little.


class _Raw(object):
    """Already-encoded JSON text."""
    __slots__ = ('text',)

    def __init__(self, text):
        self.text = text


def _bytes_json(b):
    n = len(b)
    if n == 0:
        return '[]'
    first = b[:1]
    if b.count(first) == n:
        s = str(bytearray(first)[0])
        return '[' + (s + ',') * (n - 1) + s + ']'
    return '[' + ','.join(map(str, bytearray(b))) + ']'


def _enc(o, out):
    if o is None:
        out.append('null')
    elif o is True:
        out.append('true')
    elif o is False:
        out.append('false')
    elif isinstance(o, _Raw):
        out.append(o.text)
    elif isinstance(o, int_types):
        out.append(str(int(o)))
    elif isinstance(o, float):
        out.append(repr(o))
    elif isinstance(o, (text_type, binary_type)):
        out.append(json.dumps(o))
    elif isinstance(o, dict):
        out.append('{')
        first = True
        for k, v in o.items():
            if not first:
                out.append(',')
            first = False
            out.append(json.dumps(k))
            out.append(':')
            _enc(v, out)
        out.append('}')
    elif isinstance(o, (list, tuple)):
        out.append('[')
        first = True
        for v in o:
            if not first:
                out.append(',')
            first = False
            _enc(v, out)
        out.append(']')
    else:
        raise Broken('cannot encode %r' % (o,))


def _dumps(o):
    out = []
    _enc(o, out)
    return ''.join(out)


# ---------------------------------------------------------------------------
# Values and errors (wire/src/value.rs)

# ErrorKind's unit variants, by the exception class name that maps to each.
_UNIT_KINDS = {
    'ValueError': 'ValueError',
    'AssertionError': 'AssertionError',
    'AttributeError': 'AttributeError',
    'RuntimeError': 'RuntimeError',
    'TypeError': 'TypeError',
    'SystemExit': 'SystemExit',
    'OSError': 'OSError',
    # 2.7's names for what 3.3+ call OSError (PEP 3151).
    'IOError': 'OSError',
    'EnvironmentError': 'OSError',
    'ChildProcessError': 'ChildProcessError',
    'ProcessLookupError': 'ProcessLookupError',
    'Full': 'Full',
    'Empty': 'Empty',
    'EOFError': 'EOFError',
    'ModuleNotFoundError': 'ModuleNotFoundError',
    'PicklingError': 'PicklingError',
    'Timeout': 'Timeout',
}


def _message(e):
    try:
        s = str(e)
    except Exception:
        s = text_type(e)
    return _as_text(s)


def py_error(e):
    name = type(e).__name__
    kind = _UNIT_KINDS.get(name)
    if kind is None:
        kind = {'Other': name}
    d = {'kind': kind, 'message': _message(e)}
    if isinstance(e, EnvironmentError):
        n = getattr(e, 'errno', None)
        if isinstance(n, int_types) and not isinstance(n, bool):
            d['errno'] = int(n)
    return d


def error_value(e):
    return {'type': 'error', 'value': py_error(e)}


def text_value(s):
    return {'type': 'str', 'value': _as_text(s)}


def handle_value(h):
    return {'type': 'handle', 'value': h}


def _is_process(obj):
    return hasattr(obj, '_popen') and hasattr(obj, 'start') and hasattr(obj, 'join')


def to_value(obj, ctx=None):
    """The serde Value of a Python object."""
    import types
    if obj is None:
        return {'type': 'none'}
    if isinstance(obj, bool):
        return {'type': 'bool', 'value': obj}
    if isinstance(obj, int_types):
        return {'type': 'int', 'value': obj}
    if isinstance(obj, text_type):
        return {'type': 'str', 'value': obj}
    if isinstance(obj, (binary_type, bytearray)):
        return {'type': 'bytes', 'value': _Raw(_bytes_json(bytes(obj)))}
    if isinstance(obj, (list, tuple)):
        return {'type': 'list', 'value': [to_value(x, ctx) for x in obj]}
    if isinstance(obj, BaseException):
        return error_value(obj)
    if type(obj) is object:
        return {'type': 'opaque', 'value': 'object'}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        name = getattr(obj, '__qualname__', None) or obj.__name__
        return {'type': 'opaque',
                'value': 'function %s.%s' % (obj.__module__, name)}
    if ctx is not None and _is_process(obj):
        return handle_value(ctx.handle_of(obj))
    return {'type': 'opaque', 'value': type(obj).__name__}


def from_value(v):
    """The Python object for a serde Value sent as data."""
    t = v['type']
    val = v.get('value')
    if t == 'none':
        return None
    if t in ('bool', 'int', 'str'):
        return val
    if t == 'bytes':
        return bytes(bytearray(val))
    if t == 'list':
        return [from_value(x) for x in val]
    raise Broken('a %s value cannot be sent as data' % t)


def _same(a, b):
    """Equality that tells True from 1 and text from bytes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _exception_class(kind):
    if isinstance(kind, dict):
        name = kind.get('Other')
    else:
        name = kind
    if name in ('Full', 'Empty'):
        q = _queue_module()
        return getattr(q, name)
    if name == 'PicklingError':
        import pickle
        return pickle.PicklingError
    try:
        import builtins
    except ImportError:
        import __builtin__ as builtins
    cls = getattr(builtins, _native(name), None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls
    # A class of that name, shown without a module prefix in tracebacks.
    return type(_native(name), (Exception,),
                {'__module__': 'builtins' if not PY2 else 'exceptions'})


def _queue_module():
    try:
        import queue
    except ImportError:
        import Queue as queue
    return queue


# ---------------------------------------------------------------------------
# Gates and reports, seen from any process


def wait_gate(path):
    """Waits until the gate's pipe holds its byte (the driver opened it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _readable(fd, None)
    finally:
        os.close(fd)


# A frame is "PID MORE DATA\n" in one write(2) of at most PIPE_BUF (4096 on
# Linux, 512 at least by POSIX) bytes, which the kernel never interleaves.
_FRAME_DATA = 3500


def _thread_ident():
    try:
        from threading import get_ident
    except ImportError:  # 2.7
        from thread import get_ident
    return get_ident()


def _frames(pid, line):
    # The sender is PID.THREAD: two threads of one process (a thread step)
    # may each be halfway through a report of several frames.
    chunks = [line[i:i + _FRAME_DATA] for i in range(0, len(line), _FRAME_DATA)] or [b'']
    last = len(chunks) - 1
    sender = '%d.%d' % (pid, _thread_ident())
    return [('%s %d ' % (sender, int(i < last))).encode('ascii') + c + b'\n'
            for i, c in enumerate(chunks)]


def send_report(env, label, value):
    """Writes one report to the driver's report pipe, as frames."""
    line = _dumps({'label': label, 'value': value}).encode('utf-8')
    # Opening /proc/DRIVER/fd/N fails at once (ENOENT) if the driver is gone.
    fd = os.open(env['reports'], os.O_WRONLY)
    try:
        for frame in _frames(os.getpid(), line):
            _write_all(fd, frame)
    finally:
        os.close(fd)


def _atexit_report(env, label):
    """An exit handler's report: from the driver's own process (a handler
    the driver registered, or one a program run there registered) it is a
    local report; from any other process (a fork child that ran handlers it
    inherited, or a child's own handler) it goes over the report pipe."""
    st = _state()
    if st is not None and os.getpid() == st.pid:
        st.local_report(label, {'type': 'none'})
        return
    send_report(env, label, {'type': 'none'})


# ---------------------------------------------------------------------------
# Handles referenced by a program

_HANDLE_KEYS = frozenset(['gate', 'queue', 'conn', 'process', 'fd', 'from', 'object'])

# A SyncOp's handle fields (wire/src/sync.rs). `value` is one only there (in
# a Value it is data); a `manager` never reaches a child, only its proxies.
_SYNC_OPS = frozenset([
    'lock_new', 'acquire', 'release', 'event_new', 'event_set', 'event_clear',
    'event_is_set', 'event_wait', 'value_new', 'value_get', 'value_set',
    'value_add', 'array_new', 'array_get', 'array_set', 'manager_new',
    'manager_new_address',
    'manager_address', 'manager_shutdown', 'proxy_new', 'proxy_append',
    'proxy_set_item', 'proxy_get_item', 'proxy_contents'])
_SYNC_HANDLE_KEYS = frozenset(['lock', 'event', 'value', 'array', 'proxy'])


def _is_handle(v):
    return isinstance(v, int_types) and not isinstance(v, bool)


def _collect(node, out):
    if isinstance(node, dict):
        if node.get('item') == 'itself' and isinstance(node.get('arg'), int_types):
            out.add(node['arg'])
        op = node.get('op')
        sync = isinstance(op, (text_type, binary_type)) and op in _SYNC_OPS
        for k, v in node.items():
            if k in _HANDLE_KEYS and _is_handle(v):
                out.add(v)
            elif sync and k in _SYNC_HANDLE_KEYS and _is_handle(v):
                out.add(v)
            elif sync and k == 'manager':
                pass
            else:
                _collect(v, out)
    elif isinstance(node, list):
        for x in node:
            _collect(x, out)


# ---------------------------------------------------------------------------
# Process classes


_CPYTHON_METHODS = ('fork', 'spawn', 'forkserver')


def _subclasses():
    """The process subclasses made in this process, by key. Kept on the sys
    module, not in a global of this file: a pickler that copies this
    file's functions by value (loky's cloudpickle does, for __main__) gives
    them a namespace of their own, where a module global may be missing."""
    return sys.__dict__.setdefault('_mpconform_subclasses', {})


def _base_class(api, context):
    if context is None:
        return api.Process
    if not hasattr(api, 'get_context'):
        raise Unsupported('get_context')
    return api.get_context(_native(context)).Process


def _override_run(self):
    text, table, env = self._mpconform_run
    return _child_main(text, table, env)


def _subclass_reduce(self):
    # The class exists only where it was made: rebuild it in the child
    # from its key, then the instance from its state.
    return (_rebuild_process, (type(self)._mpconform_key, self.__dict__))


def _subclass(key):
    cls = _subclasses().get(key)
    if cls is None:
        modname, api_context, name, context, overrides = key
        ns = {'__reduce__': _subclass_reduce, '_mpconform_key': key,
              '__module__': __name__}
        if overrides:
            ns['run'] = _override_run
        base = _base_class(_api(modname, api_context), context)
        cls = type(_native(name), (base,), ns)
        if not PY2:
            cls.__qualname__ = name
        _subclasses()[key] = cls
    return cls


def _rebuild_process(key, state):
    cls = _subclass(tuple(key))
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj



# ---------------------------------------------------------------------------
# Where a program runs: the driver itself, a bare fork child, or a child
# process started by the module.


class Ctx(object):
    def __init__(self, table, env, driver=None):
        self.table = table
        self.env = env
        self.driver = driver
        self.modname = env['module']
        self.api_context = env.get('context')
        self.module = _api(self.modname, self.api_context)
        self.fork_return = None
        self.ids = {}
        for h, entry in table.items():
            if entry[0] == 'obj':
                self.ids[id(entry[1])] = h
        self.next_handle = (max(table) + 1) if table else 1
        # Capture file path -> the descriptor that keeps it (and its path).
        self.captures = {}
        # id(process object) -> a weak reference to its _ArgumentWitness.
        self.witnesses = {}

    # handles

    def register(self, obj):
        h = self.next_handle
        self.next_handle += 1
        self.table[h] = ('obj', obj)
        self.ids[id(obj)] = h
        return h

    def register_entry(self, entry):
        h = self.next_handle
        self.next_handle += 1
        self.table[h] = entry
        return h

    def handle_of(self, obj):
        h = self.ids.get(id(obj))
        if h is not None:
            entry = self.table.get(h)
            if entry is not None and entry[0] == 'obj' and entry[1] is obj:
                return h
        return self.register(obj)

    def entry(self, h, kind):
        entry = self.table.get(h)
        if entry is None:
            raise Broken('no handle %s' % h)
        if entry[0] != kind:
            raise Broken('handle %s is a %s, not a %s' % (h, entry[0], kind))
        return entry

    def obj(self, h):
        entry = self.table.get(h)
        if entry is not None and entry[0] == 'proxy':
            return entry[1]
        return self.entry(h, 'obj')[1]

    def proxy(self, h):
        """A manager's proxy and its kind ('list' or 'dict')."""
        entry = self.entry(h, 'proxy')
        return entry[1], entry[2]

    def fd(self, h):
        return self.entry(h, 'fd')[1]

    def gate_path(self, h):
        return self.entry(h, 'gate')[1]

    def in_driver(self):
        return self.driver is not None and os.getpid() == self.driver.pid

    # reports

    def report(self, label, value):
        if self.in_driver():
            self.driver.local_report(label, value)
        else:
            send_report(self.env, label, value)

    # processes

    def child_env(self, capture_stderr, capture_stdout=False):
        """The env a child gets: this one's, with a capture file of its own
        for each standard stream captured (None: it inherits the stream)."""
        env = dict(self.env)
        for key, capture in (('stderr', capture_stderr), ('stdout', capture_stdout)):
            env[key] = None
            if capture:
                fd, path = _nameless_file()
                self.captures[path] = fd
                env[key] = path
        return env

    def make_process(self, spec):
        """Process(target=..., args=...), a context's Process or a subclass,
        with name= and daemon= only when given. Returns (process, env)."""
        context = spec.get('context')
        subclass = spec.get('subclass')
        override = spec.get('run_override')
        if subclass is not None:
            cls = _subclass((self.modname, self.api_context, subclass, context,
                             override is not None))
        else:
            cls = _base_class(self.module, context)
        wanted = set()
        _collect(spec, wanted)
        table = {}
        for h in wanted:
            entry = self.table.get(h)
            if entry is None:
                raise Broken('no handle %s' % h)
            table[h] = entry
        env = self.child_env(spec.get('capture_stderr'), spec.get('capture_stdout'))
        kwargs = {}
        if spec.get('name') is not None:
            kwargs['name'] = _native(spec['name'])
        daemon = spec.get('daemon')
        if daemon is not None and not PY2:
            kwargs['daemon'] = daemon
        target = spec.get('target') or {'steps': []}
        witness = _ArgumentWitness()
        p = cls(target=_child_main, args=(_dumps(target), table, env, witness), **kwargs)
        self.witnesses[id(p)] = weakref.ref(witness)
        del witness
        if daemon is not None and PY2:
            # 2.7's Process() takes no daemon= argument.
            p.daemon = daemon
        if override is not None:
            p._mpconform_run = (_dumps(override), table, env)
        return p, env


# ---------------------------------------------------------------------------
# Programs (wire/src/program.rs)


def run_steps(ctx, steps):
    for step in steps:
        run_step(ctx, step)


def run_step(ctx, step):
    kind = step['step']
    if kind == 'report':
        ctx.report(step['label'], probe_value(ctx, step['probe']))
    elif kind == 'wait_gate':
        wait_gate(ctx.gate_path(step['gate']))
    elif kind == 'start':
        try:
            p, _ = ctx.make_process(step['spec'])
            p.start()
            value = to_value(p.pid)
        except Exception as e:
            value = error_value(e)
        ctx.report(step['label'], value)
    elif kind == 'start_inherited':
        try:
            ctx.obj(step['process']).start()
            value = {'type': 'none'}
        except Exception as e:
            value = error_value(e)
        ctx.report(step['label'], value)
    elif kind == 'fork_holder':
        path = ctx.gate_path(step['gate'])
        pid = os.fork()
        if pid == 0:
            try:
                _close_protocol_fds()
                wait_gate(path)
            finally:
                os._exit(0)
        ctx.report(step['label'], {'type': 'int', 'value': pid})
    elif kind == 'atexit_report':
        import atexit
        atexit.register(_atexit_report, ctx.env, step['label'])
    elif kind == 'print':
        # Through the stream's buffer, as print(text, end='') does: not
        # flushed, no newline added (2.7's file wants a native str).
        sys.stdout.write(_native(step['text']))
    elif kind == 'set_main_global':
        # As a function that declares the name global binds it: in this
        # process's main module (__mp_main__ in a spawn or forkserver child).
        main = sys.modules['__main__']
        setattr(main, _native(step['name']), from_value(step['value']))
    elif kind == 'close_fd':
        os.close(ctx.fd(step['fd']))
    elif kind == 'write_fd':
        _write_all(ctx.fd(step['fd']), bytes(bytearray(step['data'])))
    elif kind == 'ipc':
        label = step.get('label')
        if label is None:
            do_ipc(ctx, step['op'])
        else:
            try:
                value = do_ipc(ctx, step['op'])
            except Exception as e:
                value = error_value(e)
            ctx.report(label, value)
    elif kind == 'sync':
        label = step.get('label')
        if label is None:
            do_sync(ctx, step['op'])
        else:
            try:
                value = do_sync(ctx, step['op'])
            except Exception as e:
                value = error_value(e)
            ctx.report(label, value)
    elif kind == 'thread':
        # Started and left: whether the process waits for it at its end is
        # the exit path's to decide (the interpreter's, multiprocessing's).
        import threading
        daemon = bool(step['daemon'])
        args = (ctx, step.get('steps') or [])
        if PY2:
            t = threading.Thread(target=run_steps, args=args)
            t.daemon = daemon
        else:
            t = threading.Thread(target=run_steps, args=args, daemon=daemon)
        t.start()
    elif kind == 'drain':
        source = ctx.obj(step['from'])
        stop = from_value(step['stop'])
        is_conn = hasattr(source, 'recv')
        got = []
        while True:
            item = source.recv() if is_conn else source.get()
            if step.get('task_done'):
                source.task_done()
            if _same(item, stop):
                break
            got.append(to_value(item, ctx))
        ctx.report(step['label'], {'type': 'list', 'value': got})
    else:
        raise Broken('unknown step %r' % (kind,))


def _exit_arg(arg):
    """sys.exit's argument, or a marker for none at all."""
    kind = arg['arg']
    if kind == 'missing':
        return _MISSING
    if kind == 'none':
        return None
    if kind == 'int':
        return arg['value']
    if kind == 'str':
        return _native(arg['value'])
    raise Broken('unknown exit argument %r' % (kind,))


_MISSING = object()


def _sys_exit(arg):
    value = _exit_arg(arg)
    if value is _MISSING:
        sys.exit()
    sys.exit(value)


def probe_value(ctx, probe):
    try:
        return _probe(ctx, probe)
    except Exception as e:
        return error_value(e)


def _probe(ctx, probe):
    kind = probe['probe']
    mod = ctx.module
    if kind == 'text':
        return text_value(probe['arg'])
    if kind == 'pid':
        return to_value(os.getpid())
    if kind == 'parent_pid':
        return to_value(os.getppid())
    if kind == 'name':
        return text_value(mod.current_process().name)
    if kind == 'parent_process_pid':
        parent = mod.parent_process()
        return to_value(None if parent is None else parent.pid)
    if kind == 'parent_process_name':
        return text_value(mod.parent_process().name)
    if kind == 'fork_return':
        if ctx.fork_return is None:
            raise RuntimeError('not a bare fork child')
        return to_value(ctx.fork_return)
    if kind == 'try_sys_exit':
        try:
            _sys_exit(probe['arg'])
        except SystemExit as e:
            return error_value(e)
        return {'type': 'none'}
    if kind == 'os_threads':
        return to_value(len(os.listdir('/proc/self/task')))
    if kind == 'main_global':
        # The main module as this process has it: the driver's script in
        # the driver and a fork child, what the start method made of it
        # (__mp_main__) in a spawn or forkserver child.
        name = _native(probe['arg'])
        namespace = getattr(sys.modules.get('__main__'), '__dict__', None) or {}
        if name not in namespace:
            raise NameError("name '%s' is not defined" % (name,))
        return to_value(namespace[name], ctx)
    raise Broken('unknown probe %r' % (kind,))


def run_program(ctx, program):
    """The steps, then the ending, as a process target would run them."""
    run_steps(ctx, program.get('steps') or [])
    end = program.get('end') or {'end': 'return'}
    kind = end['end']
    if kind == 'return':
        return None
    if kind == 'sys_exit':
        _sys_exit(end['arg'])
    if kind == 'raise':
        err = end['arg']
        raise _exception_class(err['kind'])(_native(err['message']))
    if kind == 'os_exit':
        if ctx.in_driver():
            raise Unsupported("os._exit in the driver's own process")
        os._exit(end['arg'])
    raise Broken('unknown ending %r' % (kind,))


class _ArgumentWitness(object):
    """An argument of every process the driver makes, which nothing else
    holds: whether the process object still holds its arguments is whether
    this object is still alive, seen through a weak reference (never by the
    names the object keeps its arguments under)."""


def _child_main(program_text, table, env, unused_witness=None):
    """The target of every process the driver makes (a module-level function,
    so that spawn and forkserver pickle it by reference)."""
    st = _state()
    if st is not None and os.getpid() == st.pid:
        # Process.run() called in the driver itself.
        return run_program(st.ctx, json.loads(program_text))
    _close_protocol_fds()
    _redirect(env.get('stdout'), sys.stdout, 1)
    _redirect(env.get('stderr'), sys.stderr, 2)
    ctx = Ctx(dict(table), env)
    return run_program(ctx, json.loads(program_text))


def _redirect(path, stream, fd):
    """Sends descriptor fd to the capture file at path (None: leaves it),
    after flushing what stream holds so far to where fd went before. The
    stream object stays as the interpreter made it (its buffering too)."""
    if not path:
        return
    try:
        stream.flush()
    except Exception:
        pass
    new = os.open(path, os.O_WRONLY | os.O_APPEND)
    if new != fd:
        os.dup2(new, fd)
        os.close(new)


def _run_bare_child(ctx, program):
    """A bare os.fork() child: the steps and ending, the exit code as the
    interpreter gives it for an uncaught exception, its own exit handlers;
    returns the exit code (the caller leaves with os._exit)."""
    try:
        run_program(ctx, program)
        code = 0
    except SystemExit as e:
        code = e.code
        if code is None:
            code = 0
        elif not isinstance(code, int_types):
            try:
                sys.stderr.write(str(code) + '\n')
            except Exception:
                pass
            code = 1
    except BaseException:
        code = 1
        try:
            import traceback
            sys.stderr.write('Process %s:\n' % ctx.module.current_process().name)
            traceback.print_exc()
        except BaseException:
            pass
    # As the interpreter's own end does (Py_FinalizeEx, 2.7's Py_Finalize):
    # first the non-daemonic threads are awaited, then the exit handlers run.
    threading = sys.modules.get('threading')
    shutdown = getattr(threading, '_shutdown', None)
    if shutdown is not None:
        try:
            shutdown()
        except BaseException:
            pass
    try:
        _atexit_run()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    return code


# ---------------------------------------------------------------------------
# Queues and connections (wire/src/ipc.rs)


def make_item(ctx, item):
    kind = item['item']
    if kind == 'data':
        return from_value(item['arg'])
    if kind == 'filler':
        return b'x' * item['arg']
    if kind == 'object':
        return object()
    if kind == 'unpicklable':
        return _UNPICKLABLE
    if kind == 'function':
        return _function_in(item['arg']['module'], item['arg']['name'])
    if kind == 'itself':
        return ctx.obj(item['arg'])
    raise Broken('unknown item %r' % (kind,))


# A module-level lambda: pickle refuses it as CPython's own example does
# ("attribute lookup <lambda> on __main__ failed"), not as a local object.
_UNPICKLABLE = lambda: None  # noqa: E731


def _function_in(module_name, name):
    """A function `name` in a module that exists only in this process's
    sys.modules, so pickle sends it by reference to a module nobody else has."""
    import types
    module_name = _native(module_name)
    name = _native(name)
    mod = sys.modules.get(module_name)
    if mod is None:
        mod = types.ModuleType(module_name)
        sys.modules[module_name] = mod
    f = getattr(mod, name, None)
    if f is None:
        def f(*args, **kwargs):
            return None
        f.__name__ = name
        if not PY2:
            f.__qualname__ = name
        f.__module__ = module_name
        setattr(mod, name, f)
    return f


def _keywords(op, names):
    kw = {}
    for n in names:
        if op.get(n) is not None:
            kw[n] = op[n]
    return kw


def do_ipc(ctx, op):
    """One IpcOp; returns its Value."""
    name = op['op']
    mod = ctx.module
    if name == 'queue_new':
        kind = op['kind']
        kw = _keywords(op, ('maxsize',))
        if kind == 'queue':
            q = mod.Queue(**kw)
        elif kind == 'joinable':
            q = mod.JoinableQueue(**kw)
        elif kind == 'simple':
            if not hasattr(mod, 'SimpleQueue'):
                raise Unsupported('SimpleQueue')
            q = mod.SimpleQueue(**kw)
        elif kind == 'thread':
            q = _queue_module().Queue(**kw)
        else:
            raise Broken('unknown queue kind %r' % (kind,))
        return handle_value(ctx.register(q))
    if name == 'put':
        ctx.obj(op['queue']).put(make_item(ctx, op['item']),
                                 **_keywords(op, ('block', 'timeout')))
        return {'type': 'none'}
    if name == 'put_nowait':
        ctx.obj(op['queue']).put_nowait(make_item(ctx, op['item']))
        return {'type': 'none'}
    if name == 'get':
        return to_value(ctx.obj(op['queue']).get(**_keywords(op, ('block', 'timeout'))), ctx)
    if name == 'get_nowait':
        return to_value(ctx.obj(op['queue']).get_nowait(), ctx)
    if name in ('qsize', 'empty', 'full', 'join_thread', 'cancel_join_thread',
                'task_done', 'join'):
        return to_value(getattr(ctx.obj(op['queue']), name)(), ctx)
    if name == 'close':
        return to_value(ctx.obj(op['queue']).close(), ctx)
    if name == 'repr':
        return text_value(repr(ctx.obj(op['object'])))
    if name == 'module_has':
        return to_value(hasattr(mod, _native(op['name'])))
    if name == 'pipe_new':
        a, b = mod.Pipe(**_keywords(op, ('duplex',)))
        return {'type': 'list', 'value': [handle_value(ctx.register(a)),
                                          handle_value(ctx.register(b))]}
    if name == 'send':
        ctx.obj(op['conn']).send(make_item(ctx, op['item']))
        return {'type': 'none'}
    if name == 'recv':
        return to_value(ctx.obj(op['conn']).recv(), ctx)
    if name == 'poll':
        return to_value(bool(ctx.obj(op['conn']).poll(op['timeout'])))
    if name == 'close_conn':
        return to_value(ctx.obj(op['conn']).close(), ctx)
    raise Broken('unknown ipc op %r' % (name,))


# ---------------------------------------------------------------------------
# Locks, events, shared values, managers (wire/src/sync.rs)


def _factory(ctx, name):
    """The API's own factory of that name, or unsupported."""
    f = getattr(ctx.module, name, None)
    if f is None:
        raise Unsupported('the %s has no %s'
                          % ('module' if ctx.api_context is None else 'context', name))
    return f


def _int_list(values):
    return [int(x) for x in values]


def _manager(ctx, h):
    entry = ctx.table.get(h)
    if entry is None and not ctx.in_driver():
        raise Broken('no manager %s in this process (a Manager does not reach '
                     'children, only its proxies do)' % h)
    return ctx.obj(h)


def do_sync(ctx, op):
    """One SyncOp; returns its Value."""
    name = op['op']
    none = {'type': 'none'}
    if name == 'lock_new':
        kind = op['kind']
        if kind == 'lock':
            lock = _factory(ctx, 'Lock')()
        elif kind == 'rlock':
            lock = _factory(ctx, 'RLock')()
        else:
            raise Broken('unknown lock kind %r' % (kind,))
        return handle_value(ctx.register(lock))
    if name == 'acquire':
        got = ctx.obj(op['lock']).acquire(**_keywords(op, ('block', 'timeout')))
        return to_value(got, ctx)
    if name == 'release':
        return to_value(ctx.obj(op['lock']).release(), ctx)

    if name == 'event_new':
        return handle_value(ctx.register(_factory(ctx, 'Event')()))
    if name == 'event_set':
        return to_value(ctx.obj(op['event']).set(), ctx)
    if name == 'event_clear':
        return to_value(ctx.obj(op['event']).clear(), ctx)
    if name == 'event_is_set':
        return to_value(ctx.obj(op['event']).is_set(), ctx)
    if name == 'event_wait':
        event = ctx.obj(op['event'])
        if op.get('timeout') is None:
            return to_value(event.wait(), ctx)
        return to_value(event.wait(op['timeout']), ctx)

    if name == 'value_new':
        v = _factory(ctx, 'Value')(_native(op['typecode']), op['init'])
        return handle_value(ctx.register(v))
    if name == 'value_get':
        return to_value(ctx.obj(op['value']).value, ctx)
    if name == 'value_set':
        ctx.obj(op['value']).value = op['to']
        return none
    if name == 'value_add':
        v = ctx.obj(op['value'])
        delta = op['delta']
        if op.get('lock') is None:
            for _ in range(op['times']):
                v.value = v.value + delta
        else:
            lock = ctx.obj(op['lock'])
            for _ in range(op['times']):
                with lock:
                    v.value = v.value + delta
        return none
    if name == 'array_new':
        a = _factory(ctx, 'Array')(_native(op['typecode']), _int_list(op['init']))
        return handle_value(ctx.register(a))
    if name == 'array_get':
        return to_value(list(ctx.obj(op['array'])[:]), ctx)
    if name == 'array_set':
        ctx.obj(op['array'])[op['index']] = op['to']
        return none

    if name == 'manager_new':
        # Started by the factory; shut down by its own finalizer at the
        # driver's exit unless the clause does it first.
        return handle_value(ctx.register(_factory(ctx, 'Manager')()))
    if name in ('manager_address', 'manager_new_address'):
        if name == 'manager_new_address':
            # Kept by this process (its table) until it ends.
            m = _factory(ctx, 'Manager')()
            ctx.register(m)
        else:
            m = _manager(ctx, op['manager'])
        address = m.address
        if isinstance(address, (text_type, binary_type)):
            return text_value(address)
        if isinstance(address, tuple):
            return to_value([_as_text(x) for x in address], ctx)
        return to_value(address, ctx)
    if name == 'manager_shutdown':
        return to_value(_manager(ctx, op['manager']).shutdown(), ctx)
    if name == 'proxy_new':
        m = _manager(ctx, op['manager'])
        kind = op['kind']
        if kind not in ('list', 'dict'):
            raise Broken('unknown proxy kind %r' % (kind,))
        factory = getattr(m, kind, None)
        if factory is None:
            raise Unsupported('the manager has no %s()' % kind)
        return handle_value(ctx.register_entry(('proxy', factory(), kind)))
    if name == 'proxy_append':
        p, _ = ctx.proxy(op['proxy'])
        return to_value(p.append(from_value(op['item'])), ctx)
    if name == 'proxy_set_item':
        p, _ = ctx.proxy(op['proxy'])
        p[from_value(op['key'])] = from_value(op['item'])
        return none
    if name == 'proxy_get_item':
        p, _ = ctx.proxy(op['proxy'])
        return to_value(p[from_value(op['key'])], ctx)
    if name == 'proxy_contents':
        p, kind = ctx.proxy(op['proxy'])
        if kind == 'list':
            return to_value(list(p), ctx)
        return to_value([[k, v] for k, v in sorted(p.items())], ctx)
    raise Broken('unknown sync op %r' % (name,))


# ---------------------------------------------------------------------------
# Pools (wire/src/pool.rs)
#
# A worker reaches the driver as a child does: reports over the report pipe,
# gates by path. What it gets is a payload (env, table of gates), picklable
# under every start method, and the steps as JSON text; it runs them with
# run_steps in a Ctx of its own. The task returns the wire Value itself, a
# plain JSON-able dict (no _Raw: a class of this file would come back to the
# driver by reference to __mp_main__ from a spawn worker, which the driver
# cannot unpickle). A failure of the driver's own in a worker comes back as
# a dict keyed by _WORKER_FAULT, never as an exception of a class of this
# file, for the same reason.

_WORKER_FAULT = 'mpconform_worker_fault'


def _pool_payload(ctx, steps, what):
    """What a worker needs to run steps: (env, the gates they name). A
    handle of any other kind (a queue, a lock, a process, an fd) does not
    reach a pool's worker: unsupported."""
    wanted = set()
    _collect(steps, wanted)
    table = {}
    for h in sorted(wanted):
        entry = ctx.table.get(h)
        if entry is None:
            raise Broken('no handle %s' % h)
        if entry[0] != 'gate':
            kind = type(entry[1]).__name__ if entry[0] == 'obj' else entry[0]
            raise Unsupported("a pool's %s that names handle %s (a %s): only gates "
                              "and reports reach a pool's worker" % (what, h, kind))
        table[h] = entry
    return (ctx.child_env(False), table)


def _worker_ctx(payload):
    _close_protocol_fds()
    env, table = payload
    return Ctx(dict(table), env)


def _plain(value):
    """A Value as plain JSON data (bytes as a list of ints, not _Raw)."""
    return json.loads(_dumps(value))


def _worker_fault(e):
    kind = 'unsupported' if isinstance(e, Unsupported) else 'broken'
    message = _message(e)
    if kind == 'broken' and not isinstance(e, Broken):
        message = '%s: %s' % (type(e).__name__, message)
    return {_WORKER_FAULT: kind, 'message': 'in a pool worker: %s' % message}


def _pool_initializer(payload, steps_text):
    """The initializer of every pool the driver makes with one (module-level,
    so that spawn and forkserver pickle it by reference): the steps, once,
    as the worker starts. A failure of the driver's own goes to standard
    error; the worker goes on (a raising initializer would only make the
    pool start workers again and again)."""
    try:
        run_steps(_worker_ctx(payload), json.loads(steps_text))
    except Exception as e:
        try:
            sys.stderr.write('mpconform driver: %s\n' % _worker_fault(e)['message'])
            sys.stderr.flush()
        except Exception:
            pass


def _pool_task(payload, task_text, *item):
    """The function of every task (apply's, apply_async's, and map's under
    functools.partial, which passes the item): the task's steps, then its
    return as a wire Value."""
    try:
        ctx = _worker_ctx(payload)
        task = json.loads(task_text)
        run_steps(ctx, task.get('steps') or [])
        returns = task['returns']
        kind = returns['kind']
        if kind == 'value':
            return returns['arg']
        if kind == 'probe':
            return _plain(probe_value(ctx, returns['arg']))
        if kind == 'item':
            return _plain(to_value(item[0] if item else None))
        raise Broken('unknown task return %r' % (kind,))
    except Exception as e:
        return _worker_fault(e)


# Under a start method that neither forks nor re-imports the main module
# (loky's fork+exec), a worker cannot find __main__._pool_task: the pool
# sends its tasks with the standard pickler, by reference, and loky's worker
# runs loky's own __main__. There the functions go by this file's name as a
# module (its directory is the worker's sys.path[0]), which the worker then
# imports: definitions only, as a spawn child's import is. In the driver
# that name is its main module itself, so that pickle finds the very
# function it is given.
_BY_NAME = os.path.splitext(os.path.basename(__file__))[0]


def _named_copy(f):
    import types
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + '_by_name',
                           f.__defaults__, f.__closure__)
    g.__module__ = _BY_NAME
    if not PY2:
        g.__qualname__ = g.__name__
    return g


_pool_task_by_name = _named_copy(_pool_task)
_pool_initializer_by_name = _named_copy(_pool_initializer)


def _reimports_main(api):
    get = getattr(api, 'get_start_method', None)
    if get is None:
        return True
    try:
        method = get(allow_none=True)
    except TypeError:
        method = get()
    return method is None or _as_text(method) in _CPYTHON_METHODS


def _pool_functions(ctx):
    """The task and initializer functions for a pool of this API."""
    if _reimports_main(ctx.module):
        return _pool_task, _pool_initializer
    main = sys.modules.get(_pool_task.__module__)
    if sys.modules.setdefault(_BY_NAME, main) is not main:
        raise Broken('a module %r other than the driver is imported' % _BY_NAME)
    return _pool_task_by_name, _pool_initializer_by_name


def _pool_answer(ctx, got):
    """What a task returned, as the reply's Value (a worker's fault of the
    driver's own as unsupported or broken)."""
    if isinstance(got, dict):
        fault = got.get(_WORKER_FAULT)
        if fault == 'unsupported':
            raise Unsupported(got['message'])
        if fault is not None:
            raise Broken(got['message'])
        if 'type' in got:
            return got
    # Not what _pool_task returns: the target handed back something else.
    return to_value(got, ctx)


def _task_args(ctx, task):
    payload = _pool_payload(ctx, task.get('steps') or [], 'task')
    return payload, _dumps(task)


def do_pool(ctx, op):
    """One PoolOp; returns its Value."""
    name = op['op']
    if name == 'pool_new':
        # The API's own factory: the module's (its default context, which
        # use_start_method chose) or the context's under NAME:CONTEXT.
        factory = _factory(ctx, 'Pool')
        kw = _keywords(op, ('processes', 'maxtasksperchild'))
        steps = op.get('initializer')
        if steps is not None:
            kw['initializer'] = _pool_functions(ctx)[1]
            kw['initargs'] = (_pool_payload(ctx, steps, 'initializer'), _dumps(steps))
        # Closed, terminated or joined as the clause asks; otherwise left to
        # the module's own finalizer at the driver's exit.
        return handle_value(ctx.register(factory(**kw)))
    if name == 'apply':
        payload, text = _task_args(ctx, op['task'])
        task = _pool_functions(ctx)[0]
        return _pool_answer(ctx, ctx.obj(op['pool']).apply(task, (payload, text)))
    if name == 'apply_async':
        payload, text = _task_args(ctx, op['task'])
        task = _pool_functions(ctx)[0]
        result = ctx.obj(op['pool']).apply_async(task, (payload, text))
        if result is None:
            # billiard's apply_async on a pool that is not running.
            return {'type': 'none'}
        return handle_value(ctx.register(result))
    if name == 'result_get':
        result = ctx.obj(op['result'])
        if op.get('timeout') is None:
            return _pool_answer(ctx, result.get())
        return _pool_answer(ctx, result.get(op['timeout']))
    if name == 'result_ready':
        return to_value(ctx.obj(op['result']).ready(), ctx)
    if name == 'map':
        import functools
        payload, text = _task_args(ctx, op['task'])
        items = [from_value(x) for x in op['items']]
        fn = functools.partial(_pool_functions(ctx)[0], payload, text)
        got = ctx.obj(op['pool']).map(fn, items, **_keywords(op, ('chunksize',)))
        return {'type': 'list', 'value': [_pool_answer(ctx, x) for x in got]}
    if name in ('close', 'terminate', 'join'):
        return to_value(getattr(ctx.obj(op['pool']), name)(), ctx)
    raise Broken('unknown pool op %r' % (name,))


# ---------------------------------------------------------------------------
# The driver process


class Driver(object):
    def __init__(self, modname, module, unused_tmpdir=None, context=None):
        # unused_tmpdir: harness/src/repro.rs's replay still passes one.
        self.pid = os.getpid()
        self.thread = _thread_ident()
        self.fds_closed = False
        self.modname = modname
        self.context = context
        self.module = module
        # The driver keeps the write end too: the pipe never reaches end of
        # file, and a child's open for writing never waits for a reader.
        self.report_fd, self.report_w, _, reports = _pipe_by_path()
        self.pending = {}  # pid -> the frames of its unfinished report
        self.reports = []  # [label, value, taken]
        self.gate_fds = {}
        self.stderr_paths = {}
        self.stdout_paths = {}
        self.env = {'module': modname, 'context': context, 'reports': reports,
                    'stderr': None, 'stdout': None}
        self.ctx = Ctx({}, self.env, driver=self)

    # reports

    def _receive(self):
        data = b''
        # A pipe's read returns what is there without waiting once poll says
        # it is readable, so no O_NONBLOCK is needed.
        while _readable(self.report_fd, 0):
            try:
                chunk = os.read(self.report_fd, 65536)
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                raise
            if not chunk:
                break
            data += chunk
        self._frames = getattr(self, '_frames', b'') + data
        while True:
            end = self._frames.find(b'\n')
            if end < 0:
                break
            frame = self._frames[:end]
            self._frames = self._frames[end + 1:]
            pid, more, body = frame.split(b' ', 2)
            self.pending[pid] = self.pending.get(pid, b'') + body
            if more == b'1':
                continue
            report = json.loads(self.pending.pop(pid).decode('utf-8'))
            self.reports.append([report['label'], report['value'], False])

    def local_report(self, label, value):
        if _thread_ident() == self.thread:
            self._receive()
        # (From another thread, a thread step's, the frames are the main
        # thread's to read.)
        self.reports.append([label, value, False])

    def await_report(self, label, timeout):
        deadline = _monotonic() + timeout
        while True:
            self._receive()
            for r in self.reports:
                if not r[2] and r[0] == label:
                    r[2] = True
                    return r[1]
            left = deadline - _monotonic()
            if left <= 0:
                raise Timeout("no report '%s' within %s s" % (label, timeout))
            _readable(self.report_fd, left)

    # the protocol

    def hello(self):
        mod = self.module
        if self.context is not None:
            # A context has one method, its own.
            methods = [_as_text(mod.get_start_method())]
        elif hasattr(mod, 'get_all_start_methods'):
            methods = list(mod.get_all_start_methods())
        else:
            methods = ['fork']
        caps = []
        if hasattr(mod.Process, 'close'):
            caps.append('process_close')
        if hasattr(mod.Process, 'kill'):
            caps.append('process_kill')
        if hasattr(mod, 'parent_process'):
            caps.append('parent_process')
        if hasattr(os, 'waitstatus_to_exitcode'):
            caps.append('waitstatus_to_exitcode')
        if hasattr(os, 'fork'):
            caps.append('os_fork')
        impl = _interpreter_version()
        own = getattr(mod, '__version__', None)
        version = '%s on %s' % (own, impl) if own else impl
        name = self.modname
        if self.context is not None:
            name = "%s.get_context(%r)" % (self.modname, _as_text(self.context))
        return {'hello': {'protocol': 1, 'name': name, 'version': version,
                          'start_methods': methods, 'capabilities': caps}}

    def handle(self, line):
        try:
            req = json.loads(line.decode('utf-8'))
            method = getattr(self, 'call_' + req['call'], None)
        except Exception as e:
            return {'broken': 'unreadable request: %s' % _message(e)}
        if method is None:
            # A call of a later wire form: this driver lacks it, which is
            # the target's verdict to give as unsupported, not a breakage.
            return {'unsupported': 'the driver does not know the call %r' % (req['call'],)}
        try:
            return {'ok': method(req)}
        except Unsupported as e:
            return {'unsupported': _message(e)}
        except Broken as e:
            return {'broken': _message(e)}
        except BaseException as e:
            return {'raised': py_error(e)}

    # calls

    def call_use_start_method(self, req):
        method = req['method']
        if self.context is not None:
            if method == _as_text(self.module.get_start_method()):
                return {'type': 'none'}
            raise Unsupported('start method %r (the context is %r)'
                              % (method, self.module.get_start_method()))
        if hasattr(self.module, 'set_start_method'):
            self.module.set_start_method(_native(method), force=True)
            return {'type': 'none'}
        if method == 'fork':
            return {'type': 'none'}
        raise Unsupported('start method %r' % (method,))

    def _api_function(self, name):
        f = getattr(self.module, name, None)
        if f is None:
            raise Unsupported('%s (the API has no such name)' % name)
        return f

    def call_set_start_method(self, req):
        # A context API's own set_start_method: a concrete context refuses
        # (ValueError), and that is its answer.
        set_start_method = self._api_function('set_start_method')
        method = req.get('method')
        set_start_method(None if method is None else _native(method),
                         force=bool(req.get('force')))
        return {'type': 'none'}

    def call_get_start_method(self, req):
        get_start_method = self._api_function('get_start_method')
        return _method_value(get_start_method(allow_none=bool(req.get('allow_none'))))

    def call_get_all_start_methods(self, req):
        methods = self._api_function('get_all_start_methods')()
        return {'type': 'list', 'value': [_method_value(m) for m in methods]}

    def call_context_start_method(self, req):
        get_context = self._api_function('get_context')
        method = req.get('method')
        context = get_context(None if method is None else _native(method))
        return _method_value(context.get_start_method())

    def call_set_main_global(self, req):
        # As code under `if __name__ == '__main__':` binds it: in the main
        # module of this process (the driver's script), which a fork child
        # copies and a spawn child imports afresh as __mp_main__.
        main = sys.modules['__main__']
        setattr(main, _native(req['name']), from_value(req['value']))
        return {'type': 'none'}

    def call_atexit_register(self, req):
        # The real atexit module, as a program registers a handler; what a
        # child does with inherited handlers is the target's to decide.
        import atexit
        atexit.register(_atexit_report, self.env, req['label'])
        return {'type': 'none'}

    def call_gate_new(self, req):
        r, w, path, _ = _pipe_by_path()
        h = self.ctx.register_entry(('gate', path))
        self.gate_fds[h] = (r, w)
        return handle_value(h)

    def call_gate_open(self, req):
        h = req['gate']
        self.ctx.entry(h, 'gate')
        r, w = self.gate_fds[h]
        if w is not None:
            # One byte nobody reads: every waiter, now or later, sees the
            # pipe readable. (Copies of the write end inherited by fork
            # children cannot shut it again.)
            _write_all(w, b'o')
            os.close(w)
            self.gate_fds[h] = (r, None)
        return {'type': 'none'}

    def call_await_report(self, req):
        return self.await_report(req['label'], req['timeout'])

    def call_reports_so_far(self, req):
        self._receive()
        return {'type': 'list', 'value': [text_value(r[0]) for r in self.reports]}

    def _process(self, req):
        return self.ctx.obj(req['process'])

    def call_process_new(self, req):
        p, env = self.ctx.make_process(req['spec'])
        h = self.ctx.register(p)
        if env.get('stderr'):
            self.stderr_paths[h] = env['stderr']
        if env.get('stdout'):
            self.stdout_paths[h] = env['stdout']
        return handle_value(h)

    def call_process_start(self, req):
        p = self._process(req)
        if (hasattr(type(p), '_mpconform_key') and self.context is not None
                and _as_text(self.module.get_start_method()) not in _CPYTHON_METHODS):
            # The driver's Process subclasses travel by a __reduce__ that
            # rebuilds them from this file; a start method that neither
            # forks nor re-imports the main module as __mp_main__ (loky's
            # fork+exec with cloudpickle) copies __main__'s functions by
            # value instead, and the rebuilt class cannot be made there.
            raise Unsupported("a Process subclass made by the driver, under start "
                              "method %r (it does not re-import the driver's main module)"
                              % _as_text(self.module.get_start_method()))
        return to_value(p.start(), self.ctx)

    def call_process_run(self, req):
        return to_value(self._process(req).run(), self.ctx)

    def call_process_join(self, req):
        p = self._process(req)
        timeout = req.get('timeout')
        if timeout is None:
            return to_value(p.join(), self.ctx)
        return to_value(p.join(timeout), self.ctx)

    def call_process_is_alive(self, req):
        return to_value(self._process(req).is_alive())

    def call_process_pid(self, req):
        return to_value(self._process(req).pid)

    def call_process_exitcode(self, req):
        return to_value(self._process(req).exitcode)

    def call_process_name(self, req):
        return text_value(self._process(req).name)

    def call_process_daemon(self, req):
        return to_value(self._process(req).daemon)

    def call_process_repr(self, req):
        return text_value(repr(self._process(req)))

    def call_process_terminate(self, req):
        return to_value(self._process(req).terminate(), self.ctx)

    def call_process_kill(self, req):
        p = self._process(req)
        if not hasattr(type(p), 'kill'):
            raise Unsupported('Process.kill')
        return to_value(p.kill(), self.ctx)

    def call_process_close(self, req):
        p = self._process(req)
        if not hasattr(type(p), 'close'):
            raise Unsupported('Process.close')
        return to_value(p.close(), self.ctx)

    def call_process_sentinel(self, req):
        p = self._process(req)
        if not hasattr(type(p), 'sentinel'):
            raise Unsupported('Process.sentinel')
        return to_value(p.sentinel)

    def call_process_sentinel_ready(self, req):
        p = self._process(req)
        if not hasattr(type(p), 'sentinel'):
            raise Unsupported('Process.sentinel')
        # The sentinel is a descriptor: its readiness is the OS's to tell.
        return to_value(_readable(p.sentinel, req['timeout']))

    def call_process_holds_target(self, req):
        p = self._process(req)
        witness = self.ctx.witnesses.get(id(p))
        if witness is None:
            raise Broken('process %s was not made by the driver' % req['process'])
        gc.collect()
        return to_value(witness() is not None)

    def _captured(self, req, paths, stream):
        h = req['process']
        self.ctx.obj(h)
        path = paths.get(h)
        if path is None:
            raise Broken('%s of process %s was not captured' % (stream, h))
        return to_value(_read_whole(self.ctx.captures[path]))

    def call_process_stderr(self, req):
        return self._captured(req, self.stderr_paths, 'stderr')

    def call_process_stdout(self, req):
        # The child's and its children's (which inherit fd 1), in the
        # order the writes reached the file.
        return self._captured(req, self.stdout_paths, 'stdout')

    def _sorted_handles(self, objects):
        handles = sorted(self.ctx.handle_of(p) for p in objects)
        return {'type': 'list', 'value': [handle_value(h) for h in handles]}

    def call_active_children(self, req):
        return self._sorted_handles(self.module.active_children())

    def call_children_set(self, req):
        return self._sorted_handles(list(_children_set(self.module)))

    def call_current_process_name(self, req):
        return text_value(self.module.current_process().name)

    def call_parent_process_pid(self, req):
        if not hasattr(self.module, 'parent_process'):
            raise Unsupported('parent_process')
        parent = self.module.parent_process()
        return to_value(None if parent is None else parent.pid)

    def call_os_getpid(self, req):
        return to_value(os.getpid())

    def call_os_fork(self, req):
        if not hasattr(os, 'fork'):
            raise Unsupported('os.fork')
        program = req['child']
        pid = os.fork()
        if pid == 0:
            # A bare child never returns into the request loop.
            code = 1
            try:
                _close_protocol_fds()
                _atexit_clear()
                self.ctx.fork_return = pid
                code = _run_bare_child(self.ctx, program)
            finally:
                try:
                    os._exit(code)
                finally:
                    # An exit code os._exit refuses (OverflowError) must not
                    # send this child back into the request loop.
                    os._exit(1)
        return to_value(pid)

    def call_os_wait(self, req):
        return to_value(list(os.wait()))

    def call_os_waitpid(self, req):
        flags = os.WNOHANG if req['nohang'] else 0
        return to_value(list(os.waitpid(req['pid'], flags)))

    def call_os_waitstatus_to_exitcode(self, req):
        if not hasattr(os, 'waitstatus_to_exitcode'):
            raise Unsupported('os.waitstatus_to_exitcode')
        return to_value(os.waitstatus_to_exitcode(req['status']))

    def call_os_pipe(self, req):
        r, w = os.pipe()
        return {'type': 'list', 'value': [
            handle_value(self.ctx.register_entry(('fd', r))),
            handle_value(self.ctx.register_entry(('fd', w)))]}

    def call_os_close(self, req):
        os.close(self.ctx.fd(req['fd']))
        return {'type': 'none'}

    def call_os_write(self, req):
        data = bytes(bytearray(req['data']))
        _write_all(self.ctx.fd(req['fd']), data)
        return to_value(len(data))

    def call_os_read(self, req):
        fd = self.ctx.fd(req['fd'])
        if not _readable(fd, req['timeout']):
            raise Timeout('nothing to read within %s s' % (req['timeout'],))
        return to_value(os.read(fd, req['max']))

    def call_os_readable(self, req):
        return to_value(_readable(self.ctx.fd(req['fd']), req['timeout']))

    def call_os_kill(self, req):
        os.kill(req['pid'], req['signal'])
        return {'type': 'none'}

    def call_ipc(self, req):
        return do_ipc(self.ctx, req)

    def call_sync(self, req):
        return do_sync(self.ctx, req)

    def call_pool(self, req):
        return do_pool(self.ctx, req)


def _method_value(m):
    """A start method's name (text on every interpreter), or None."""
    if m is None:
        return {'type': 'none'}
    return text_value(m)


def _interpreter_version():
    import platform
    impl = platform.python_implementation()
    if impl == 'PyPy':
        v = sys.pypy_version_info
        return 'PyPy %d.%d.%d (Python %s)' % (v[0], v[1], v[2], platform.python_version())
    return '%s %s' % (impl, platform.python_version())


def _write_line(obj):
    _write_all(REPLIES_FD, (_dumps(obj) + '\n').encode('utf-8'))


def _children_set(api):
    """The set of children the API's process objects keep (CPython's
    `_children`), found through an object the API returns: the module that
    defines the class of current_process(), or (2.7) that object itself.
    Never by the module's name, which a wrapper changes."""
    current = api.current_process()
    owner = sys.modules.get(getattr(type(current), '__module__', None))
    children = getattr(owner, '_children', None)
    if children is None:
        children = getattr(current, '_children', None)
    if children is None:
        raise Unsupported(
            'neither the module of type(current_process()) (%s) '
            'nor current_process() has a _children set'
            % getattr(type(current), '__module__', '?'))
    return children


def open_driver(modname, protocol_fds=True, context=None):
    """The driver's state in this process, as main() makes it; with
    protocol_fds False (a replay with no harness), children leave fds 3 and
    4 alone. Raises ImportError if the module cannot be imported.

    Helpers the implementation starts for itself (a forkserver, a resource
    tracker, ...) are left alone: they end on their own once this process
    has ended, and the harness awaits them for a bounded grace."""
    if context is None and ':' in modname:
        # NAME:CONTEXT: the API is NAME.get_context(CONTEXT).
        modname, context = modname.split(':', 1)
    driver = Driver(modname, _api(modname, context), context=context)
    driver.fds_closed = not protocol_fds
    setattr(sys, _STATE_KEY, driver)
    return driver


def main(argv):
    protocol = None
    modname = 'multiprocessing'
    context = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--protocol' and args:
            protocol = args.pop(0)
        elif a == '--module' and args:
            modname = args.pop(0)
        elif a == '--context' and args:
            context = args.pop(0)
        else:
            print('mpconform driver: unknown argument %r' % (a,), file=sys.stderr)
            return 2
    if protocol != '1':
        print('mpconform driver: speaks protocol 1 only, not %r' % (protocol,),
              file=sys.stderr)
        return 2
    for fd in (REQUESTS_FD, REPLIES_FD):
        _set_cloexec(fd)

    try:
        driver = open_driver(modname, context=context)
    except ImportError as e:
        print('mpconform driver: cannot import %s: %s' % (modname, e), file=sys.stderr)
        return 2
    except Exception as e:
        print('mpconform driver: cannot open %s%s: %s: %s'
              % (modname, '' if context is None else '.get_context(%r)' % context,
                 type(e).__name__, _message(e)), file=sys.stderr)
        return 2
    _write_line(driver.hello())

    buf = b''
    while True:
        try:
            chunk = os.read(REQUESTS_FD, 65536)
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            raise
        if not chunk:
            break
        buf += chunk
        while True:
            end = buf.find(b'\n')
            if end < 0:
                break
            line = buf[:end]
            buf = buf[end + 1:]
            if not line.strip():
                continue
            reply = driver.handle(line)
            try:
                _write_line(reply)
            except OSError as e:
                if e.errno == errno.EPIPE:
                    return 0
                raise
    return 0


if __name__ == '__main__':
    _code = main(sys.argv[1:])
    if _code:
        sys.exit(_code)
