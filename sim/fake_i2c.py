"""A fake machine.I2C bus and the base of the register-level fake IMUs that sit on it.

Runs on CPython and the MicroPython unix port. Knows registers, bytes and simulated time;
never knows what a step or a walk is.
"""
from array import array

ENODEV = 19  # errno a MicroPython port raises when no device acknowledges its address


class FakeI2C:
    """The four machine.I2C calls the drivers use, routed to fake chips by address.

    A chip that is absent, or whose `answering` switch is off, raises OSError(ENODEV) like a bus
    where nobody acknowledges the address.
    """

    def __init__(self):
        self._chips = {}

    def attach(self, address, chip):
        self._chips[address] = chip
        return chip

    def _chip(self, address):
        chip = self._chips.get(address)
        if chip is None or not chip.answering:
            raise OSError(ENODEV)
        return chip

    def scan(self):
        return sorted(a for a in self._chips if self._chips[a].answering)

    def readfrom_mem_into(self, address, reg, buf):
        self._chip(address).read_into(reg, buf)

    def readfrom_mem(self, address, reg, n):
        buf = bytearray(n)
        self._chip(address).read_into(reg, buf)
        return bytes(buf)

    def writeto_mem(self, address, reg, buf):
        self._chip(address).write(reg, buf)


class FakeAccelChip:
    """Register file, I2C address auto-increment and an accelerometer sampling simulated time.

    Subclasses give the chip its registers: `_RESET_VALUES` ((register, value) pairs after a
    reset; all others read 0), `_READ_ONLY` (registers that ignore writes), `_NEXT_REG` (where a
    burst goes after a register that it does not simply step past), `_read_reg(reg)`,
    `_write_reg(reg, value)` and `_store(x, y, z)` (one sample offered to the FIFO, which keeps,
    drops or overwrites per its mode); they call `_set_fifo_rate(mhz, divide)` whenever their
    control registers change the rate at which the accelerometer feeds the FIFO (0: not at all)
    or the decimation (keep every `divide`-th sample).

    The FIFO is a ring of `fifo_slots` slots of `slot_bytes` bytes each (a byte, a 16-bit word,
    a tagged word): `_append_slot()`, `_oldest(offset)` and `_drop_oldest(slots)` move through it.

    Acceleration comes from `feed(xyz)`: signed 16-bit counts, x, y, z interleaved, one sample
    per tick of that rate. Once the feed runs dry the chip keeps measuring the last acceleration
    it saw (0, 0, 0 before any), like a sensor lying still.
    """

    _RESET_VALUES = ()
    _READ_ONLY = ()
    _NEXT_REG = {}
    _SOFT_RESET = None      # (register, bit): writing the bit resets the chip at once; it reads back cleared
    _AUTO_INCREMENT = None  # (register, bit): while the bit is clear, bursts stay on one register

    def __init__(self, fifo_slots, slot_bytes, samples=None):
        self.regs = bytearray(256)
        self.answering = True
        self.now_us = 0
        self.samples_stored = 0   # samples the FIFO accepted
        self.samples_lost = 0     # samples the chip dropped or overwrote, as its FIFO mode says
        self.empty_reads = 0      # FIFO data reads while the FIFO was empty (every datasheet forbids them)
        self._fifo = bytearray(fifo_slots * slot_bytes)
        self._fifo_slots = fifo_slots
        self._slot_bytes = slot_bytes
        self._feed = array("h")
        self._feed_at = 0
        self._last = array("h", (0, 0, 0))
        self._fifo_rate_mhz = 0
        self._divide = 1
        self._rate_since_us = 0
        self._ticks = 0
        if samples is not None:
            self.feed(samples)
        self._reset()

    def _reset(self):
        """Power-on state: registers at their reset values, the FIFO empty and not fed."""
        regs = self.regs
        for i in range(len(regs)):
            regs[i] = 0
        for reg, value in self._RESET_VALUES:
            regs[reg] = value
        self._clear_fifo()
        self._set_fifo_rate(0)

    # --- the FIFO ring ---

    def _clear_fifo(self):
        self._head = 0   # the oldest slot
        self._count = 0  # slots filled

    def _append_slot(self):
        """Count one more slot filled, after the newest; return the byte offset to write it at."""
        at = self._slot_bytes * ((self._head + self._count) % self._fifo_slots)
        self._count += 1
        return at

    def _put(self, byte):
        self._fifo[self._append_slot()] = byte

    def _oldest(self, offset):
        """The byte `offset` bytes into the FIFO from the start of the oldest slot."""
        return self._fifo[(self._slot_bytes * self._head + offset) % len(self._fifo)]

    def _copy_oldest(self, buf, nbytes):
        """The oldest nbytes of the FIFO into buf, without removing them (whole slots, oldest first).
        Byte by byte, because slices allocate and the drivers' tests lock the heap around reads."""
        fifo = self._fifo
        at = self._slot_bytes * self._head
        size = len(fifo)
        for i in range(nbytes):
            buf[i] = fifo[at]
            at += 1
            if at == size:
                at = 0

    def _drop_oldest(self, slots):
        self._head = (self._head + slots) % self._fifo_slots
        self._count -= slots

    def feed(self, xyz):
        if len(xyz) % 3:
            raise ValueError("feed takes x, y, z interleaved: length %d is not a multiple of 3" % len(xyz))
        if self._feed_at:
            self._feed = self._feed[self._feed_at:]
            self._feed_at = 0
        self._feed.extend(xyz)

    def advance_us(self, us):
        """Let `us` microseconds pass: the FIFO takes every sample due in that time."""
        self.now_us += us
        if not self._fifo_rate_mhz:
            return
        due = (self.now_us - self._rate_since_us) * self._fifo_rate_mhz // 1000000000
        feed = self._feed
        last = self._last
        if self._divide == 1:
            run = min(due - self._ticks, (len(feed) - self._feed_at) // 3)
            if run > 0:
                at = self._feed_at
                self._store_run(feed, at, run)
                end = at + 3 * run
                last[0] = feed[end - 3]
                last[1] = feed[end - 2]
                last[2] = feed[end - 1]
                self._feed_at = end
                self._ticks += run
        while self._ticks < due:
            self._ticks += 1
            at = self._feed_at
            if at + 3 <= len(feed):
                last[0] = feed[at]
                last[1] = feed[at + 1]
                last[2] = feed[at + 2]
                self._feed_at = at + 3
            if self._ticks % self._divide == 0:
                self._store(last[0], last[1], last[2])

    def _store_run(self, feed, at, count):
        """`count` samples from feed[at:] offered to the FIFO in order; a chip may do this faster."""
        for at in range(at, at + 3 * count, 3):
            self._store(feed[at], feed[at + 1], feed[at + 2])

    def _set_fifo_rate(self, rate_mhz, divide=1):
        if rate_mhz != self._fifo_rate_mhz or divide != self._divide:
            self._fifo_rate_mhz = rate_mhz
            self._divide = divide
            self._rate_since_us = self.now_us
            self._ticks = 0

    # --- the bus side: one byte at a time, so registers see exactly what a burst does ---

    def read_into(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self._read_reg(reg)
            reg = self._next_reg(reg)

    def write(self, reg, buf):
        soft_reset = self._SOFT_RESET
        for i in range(len(buf)):
            if soft_reset and reg == soft_reset[0] and buf[i] & soft_reset[1]:
                self._reset()
            elif reg not in self._READ_ONLY:
                self._write_reg(reg, buf[i])
            reg = self._next_reg(reg)

    def _read_reg(self, reg):
        return self.regs[reg]

    def _write_reg(self, reg, value):
        self.regs[reg] = value

    def _next_reg(self, reg):
        auto_increment = self._AUTO_INCREMENT
        if auto_increment and not self.regs[auto_increment[0]] & auto_increment[1]:
            return reg
        return self._NEXT_REG.get(reg, (reg + 1) & 0xFF)
