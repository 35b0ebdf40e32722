"""Never answers its first request."""
import os, select, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import hello_then_first_request
hello_then_first_request()
select.select([], [], [])
