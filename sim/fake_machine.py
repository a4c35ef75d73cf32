"""A stand-in for MicroPython's `machine` module with the parts firmware/boards.py uses (Pin, I2C, ADC,
unique_id, lightsleep), so a board's build runs on CPython and the unix port with fake chips. install() puts it
in sys.modules as `machine`, where the firmware's `import machine` finds it before any port's own.

I2C buses route to one shared sim/fake_i2c.py bus (`bus`) where tests attach the board's fake IMU;
pins remember their mode and level, ADC readings come from `adc_u16` / `adc_uv` by pin. Knows no
board: which pins mean what is firmware/boards.py's business.
"""
import sys

from .fake_i2c import FakeI2C

UNIQUE_ID = b"\x5a\x17\xd0\x5e\x00\x01\x02\x03"

bus = FakeI2C()
pins = {}  # pin id -> the last Pin made for it
i2c_buses = []  # (id, scl, sda, freq) of every I2C made
adc_u16 = {}  # pin id -> what read_u16() returns
adc_uv = {}  # pin id -> what read_uv() returns
slept_ms = []


def install():
    """A fresh board: an empty bus, no pins, no readings; and this module as `machine`."""
    global bus
    sys.modules["machine"] = sys.modules[__name__]
    bus = FakeI2C()
    pins.clear()
    del i2c_buses[:]
    adc_u16.clear()
    adc_uv.clear()
    del slept_ms[:]


def unique_id():
    return UNIQUE_ID


def lightsleep(ms=0):
    slept_ms.append(ms)


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self.mode = None
        self.level = 0
        self.history = []  # (mode, level) after every change, oldest first
        pins[pin_id] = self
        if mode != -1:
            self.init(mode, value=value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.level = 1 if value else 0
        self.history.append((self.mode, self.level))

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = 1 if level else 0
        self.history.append((self.mode, self.level))


class I2C:
    """machine.I2C(id, scl=Pin, sda=Pin, freq=Hz) whose transfers go to the shared fake bus."""

    def __init__(self, bus_id, scl=None, sda=None, freq=400000):
        i2c_buses.append((bus_id, scl.id, sda.id, freq))
        self._bus = bus

    def scan(self):
        return self._bus.scan()

    def readfrom_mem_into(self, address, reg, buf):
        self._bus.readfrom_mem_into(address, reg, buf)

    def writeto_mem(self, address, reg, buf):
        self._bus.writeto_mem(address, reg, buf)


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin_id = pin.id
        self.atten = atten

    def read_u16(self):
        return adc_u16[self.pin_id]

    def read_uv(self):
        return adc_uv[self.pin_id]
