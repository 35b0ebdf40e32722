"""Dies before its hello, saying why on standard error."""
import sys
sys.stderr.write('Traceback (most recent call last):\n  File "x", line 1\n')
sys.stderr.write("AttributeError: module 'os' has no attribute 'mkfifo'\n")
sys.exit(1)
