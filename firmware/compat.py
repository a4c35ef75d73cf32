"""MicroPython's const() on every interpreter; CPython gets the identity. Nothing else belongs here."""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x
