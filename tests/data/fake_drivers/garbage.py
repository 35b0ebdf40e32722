"""Answers its first request with a line that is not the protocol."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hello_then_first_request
hello_then_first_request()
os.write(4, b'this is not json\n')
os.read(3, 65536)
