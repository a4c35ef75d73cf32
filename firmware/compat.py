"""MicroPython's const() on every interpreter, and CPython stand-ins for the code emitters: the
`micropython.native`/`micropython.viper` decorators (MicroPython's compiler reads them by name) and viper's
ptr8()/ptr16()/ptr32() casts (unsigned 8- and 16-bit and signed 32-bit views of a buffer). Nothing else belongs here."""
try:
    from micropython import const  # pyright: ignore[reportAssignmentType]: the stub's const is positional-only
except ImportError:
    def const(x):
        return x


def native(f):
    return f


viper = native


def ptr8(buf):
    return memoryview(buf).cast("B")


def ptr16(buf):
    return memoryview(buf).cast("B").cast("H")


def ptr32(buf):
    return memoryview(buf).cast("B").cast("i")
