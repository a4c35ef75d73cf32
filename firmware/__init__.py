"""walkdose firmware: runs unchanged on a board (MicroPython), the unix port and CPython. Imports are relative."""
