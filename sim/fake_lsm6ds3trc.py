"""Register-level fake of the ST LSM6DS3TR-C accelerometer FIFO (accelerometer data set only).

Follows datasheet DocID030071 Rev 3 (sections 5.5, 9.4-9.8, 9.13-9.15, 9.53-9.58) and
application note AN5130 Rev 1 (section 8: FIFO_STATUS2 behaviour table 64, continuous mode 8.2.3,
retrieving data 8.4). It fails loudly on configurations it does not model (gyro in the FIFO,
trigger modes) rather than answering them wrongly.
"""
from .fake_i2c import FakeAccelChip

WHO_AM_I_VALUE = 0x6A

_FIFO_CTRL1 = 0x06
_FIFO_CTRL2 = 0x07
_FIFO_CTRL3 = 0x08
_FIFO_CTRL4 = 0x09
_FIFO_CTRL5 = 0x0A
_WHO_AM_I = 0x0F
_CTRL1_XL = 0x10
_CTRL2_G = 0x11
_CTRL3_C = 0x12
_FIFO_STATUS1 = 0x3A
_FIFO_STATUS2 = 0x3B
_FIFO_STATUS3 = 0x3C
_FIFO_STATUS4 = 0x3D
_FIFO_DATA_OUT_L = 0x3E
_FIFO_DATA_OUT_H = 0x3F

_CTRL3_C_DEFAULT = 0x04  # IF_INC set at reset (table 57)
_SW_RESET = 0x01
_IF_INC = 0x04

# AN5130 figures 28-29: with one sensor in the FIFO it holds 2046 16-bit words (682 x,y,z sets).
FIFO_WORDS = 2046

_MODE_BYPASS = 0
_MODE_FIFO = 1
_MODE_CONTINUOUS = 6

# ODR_XL / ODR_FIFO codes 1..10 (tables 41, 52), in mHz; code 0 is power-down / FIFO disabled.
ODR_MHZ = (0, 12500, 26000, 52000, 104000, 208000, 416000, 833000, 1660000, 3330000, 6660000)
_DECIMATION = (0, 1, 2, 3, 4, 8, 16, 32)  # DEC_FIFO_XL codes (table 34)


class FakeLSM6DS3TRC(FakeAccelChip):
    _RESET_VALUES = ((_WHO_AM_I, WHO_AM_I_VALUE), (_CTRL3_C, _CTRL3_C_DEFAULT))
    _READ_ONLY = (_WHO_AM_I,) + tuple(range(_FIFO_STATUS1, _FIFO_DATA_OUT_H + 1))
    # A burst from FIFO_DATA_OUT_L rolls back to it after FIFO_DATA_OUT_H, as the Linux
    # st_lsm6dsx driver relies on when it reads a whole pattern in one transfer.
    _SOFT_RESET = (_CTRL3_C, _SW_RESET)  # table 57: completes at once here
    _AUTO_INCREMENT = (_CTRL3_C, _IF_INC)
    _NEXT_REG = {_FIFO_DATA_OUT_H: _FIFO_DATA_OUT_L}

    def __init__(self, samples=None):
        super().__init__(FIFO_WORDS, 2, samples)  # a ring of little-endian words, x,y,z per set

    def _clear_fifo(self):
        super()._clear_fifo()
        self._removed = 0     # words read or overwritten since the FIFO was cleared: gives the pattern
        self._overrun = False

    # --- FIFO writes ---

    def _store(self, x, y, z):
        mode = self.regs[_FIFO_CTRL5] & 0x07
        if mode == _MODE_BYPASS:
            return
        if self._count + 3 > FIFO_WORDS:
            if mode == _MODE_FIFO:
                self.samples_lost += 1
                return
            # Continuous: the write index wraps and overwrites the oldest words one by one (8.2.3).
            drop = self._count + 3 - FIFO_WORDS
            self._drop_oldest(drop)
            self._removed += drop
            self._overrun = True
            self.samples_lost += 1
        for value in (x, y, z):
            at = self._append_slot()
            self._fifo[at] = value & 0xFF
            self._fifo[at + 1] = (value >> 8) & 0xFF
        self.samples_stored += 1

    def _store_run(self, feed, at, count):
        """_store() for many samples, inlined: the simulated board stores days of them."""
        mode = self.regs[_FIFO_CTRL5] & 0x07
        if mode == _MODE_BYPASS:
            return
        fifo = self._fifo
        slots = self._fifo_slots
        for _ in range(count):
            if self._count + 3 > FIFO_WORDS:
                self._store(feed[at], feed[at + 1], feed[at + 2])
                at += 3
                continue
            w = self._head + self._count
            for _ in range(3):
                if w >= slots:
                    w -= slots
                value = feed[at]
                fifo[2 * w] = value & 0xFF
                fifo[2 * w + 1] = (value >> 8) & 0xFF
                w += 1
                at += 1
            self._count += 3
            self.samples_stored += 1

    # --- registers ---

    def read_into(self, reg, buf):
        """A burst from FIFO_DATA_OUT_L moves whole words at once (the simulated board reads days of
        them); byte for byte the same as the register path, which serves everything else."""
        if reg != _FIFO_DATA_OUT_L or not self.regs[_CTRL3_C] & _IF_INC:
            return super().read_into(reg, buf)
        words = min(len(buf) // 2, self._count)
        if words:
            self._copy_oldest(buf, 2 * words)
            self._drop_oldest(words)
            self._removed += words
            self._overrun = False
        for i in range(2 * words, len(buf)):
            buf[i] = self._read_reg(reg)
            reg = self._next_reg(reg)

    def _read_reg(self, reg):
        if reg == _FIFO_STATUS1 or reg == _FIFO_STATUS2:
            # AN5130 table 64: when the FIFO overruns, DIFF_FIFO reads 0 while OVER_RUN is set.
            diff = 0 if self._overrun else self._count
            if reg == _FIFO_STATUS1:
                return diff & 0xFF
            fth = self.regs[_FIFO_CTRL1] | (self.regs[_FIFO_CTRL2] & 0x07) << 8
            status = diff >> 8
            if fth and self._count >= fth:
                status |= 0x80  # WaterM
            if self._overrun:
                status |= 0x40  # OVER_RUN
            if self._count + 3 >= FIFO_WORDS:
                status |= 0x20  # FIFO_FULL_SMART: the next data set fills it
            if self._count == 0:
                status |= 0x10  # FIFO_EMPTY
            return status
        if reg == _FIFO_STATUS3:
            return (self._removed % 3) & 0xFF  # accelerometer only: pattern X=0, Y=1, Z=2
        if reg == _FIFO_STATUS4:
            return 0
        if reg == _FIFO_DATA_OUT_L or reg == _FIFO_DATA_OUT_H:
            if self._count == 0:
                self.empty_reads += 1
                return 0
            if reg == _FIFO_DATA_OUT_L:
                return self._oldest(0)
            value = self._oldest(1)
            # Reading the high byte releases the slot; the output registers load the next word.
            self._drop_oldest(1)
            self._removed += 1
            self._overrun = False
            return value
        return self.regs[reg]

    def _write_reg(self, reg, value):
        self.regs[reg] = value
        if reg == _FIFO_CTRL3 and value & 0x38:
            raise NotImplementedError("fake LSM6DS3TR-C: gyroscope data set in FIFO not modelled")
        if reg == _FIFO_CTRL4 and value:
            raise NotImplementedError("fake LSM6DS3TR-C: FIFO_CTRL4 features not modelled")
        if reg == _FIFO_CTRL5:
            mode = value & 0x07
            if mode not in (_MODE_BYPASS, _MODE_FIFO, _MODE_CONTINUOUS):
                raise NotImplementedError("fake LSM6DS3TR-C: FIFO_MODE %d not modelled" % mode)
            if mode == _MODE_BYPASS:
                self._clear_fifo()  # AN5130 8.2.1: bypass clears the buffer
        if reg in (_CTRL1_XL, _CTRL2_G, _FIFO_CTRL3, _FIFO_CTRL5):
            self._update_rate()

    def _update_rate(self):
        regs = self.regs
        xl_code = regs[_CTRL1_XL] >> 4
        g_code = regs[_CTRL2_G] >> 4
        fifo_code = (regs[_FIFO_CTRL5] >> 3) & 0x0F
        if xl_code > 10 or g_code > 10 or fifo_code > 10:
            raise NotImplementedError("fake LSM6DS3TR-C: ODR code beyond table 52 not modelled")
        # AN5130 figure 32: the FIFO is written at min(max(ODR_XL, ODR_G), ODR_FIFO).
        rate = max(ODR_MHZ[xl_code], ODR_MHZ[g_code])
        rate = min(rate, ODR_MHZ[fifo_code]) if fifo_code else 0
        if not ODR_MHZ[xl_code]:
            rate = 0
        divide = _DECIMATION[regs[_FIFO_CTRL3] & 0x07]
        self._set_fifo_rate(rate if divide else 0, divide or 1)
