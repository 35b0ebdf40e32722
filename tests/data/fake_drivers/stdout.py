"""Writes a plausible reply on standard output, which is not the protocol's
channel, then a real one: the harness must not read the first."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hello_then_first_request
hello_then_first_request()
sys.stdout.write('{"ok": {"type": "none"}}\n')
sys.stdout.flush()
os.write(4, b'{"ok": {"type": "int", "value": 1}}\n{"extra": 1}\n')
os.read(3, 65536)
