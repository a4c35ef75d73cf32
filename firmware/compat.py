"""MicroPython's const() on every interpreter, and a stand-in for its `micropython.native` decorator on
CPython (MicroPython's compiler reads `@micropython.native` by name). Nothing else belongs here."""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x


def native(f):
    return f
