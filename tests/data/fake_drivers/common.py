"""Shared by the fake drivers of tests/drivers.rs: a correct hello, then the
first request (None at end of file, when the runner only asked the hello)."""
import os
import sys

HELLO = (b'{"hello": {"protocol": 1, "name": "fake", "version": "0", '
         b'"start_methods": ["fork"], "capabilities": []}}\n')


def hello_then_first_request():
    os.write(4, HELLO)
    data = os.read(3, 65536)
    if not data:
        sys.exit(0)
    return data
