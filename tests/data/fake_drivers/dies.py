"""Dies on its first request, saying why on standard error."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hello_then_first_request
hello_then_first_request()
sys.stderr.write('fake driver: dying now\n')
sys.stderr.flush()
os._exit(7)
