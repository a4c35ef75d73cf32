"""Register-level fake of the ST LSM6DSOX tagged FIFO (accelerometer batching only).

Follows datasheet DS12814 (LSM6DSOX): section 6.5 FIFO (tagged 7-byte words, DIFF_FIFO, modes),
register descriptions FIFO_CTRL1-4 (07h-0Ah), WHO_AM_I (0Fh), CTRL1_XL-CTRL3_C (10h-12h),
FIFO_STATUS1-2 (3Ah-3Bh), FIFO_DATA_OUT_TAG..Z_H (78h-7Eh). Fails loudly on configurations it
does not model (gyro batching, timestamp batching, trigger modes).
"""
from .fake_i2c import FakeAccelChip

WHO_AM_I_VALUE = 0x6C
TAG_XL_NC = 0x02  # accelerometer, not compressed

_FIFO_CTRL1 = 0x07
_FIFO_CTRL2 = 0x08
_FIFO_CTRL3 = 0x09
_FIFO_CTRL4 = 0x0A
_WHO_AM_I = 0x0F
_CTRL1_XL = 0x10
_CTRL3_C = 0x12
_FIFO_STATUS1 = 0x3A
_FIFO_STATUS2 = 0x3B
_FIFO_DATA_OUT_TAG = 0x78
_FIFO_DATA_OUT_Z_H = 0x7E

_SW_RESET = 0x01
_IF_INC = 0x04

# 3 kbytes of uncompressed FIFO = 512 words of 6 data bytes (watermark WTM[8:0] tops at 511).
FIFO_WORDS = 512

_MODE_BYPASS = 0
_MODE_FIFO = 1
_MODE_CONTINUOUS = 6

# ODR_XL and BDR_XL codes 0..11 in mHz; code 11 is 1.6 Hz.
ODR_MHZ = (0, 12500, 26000, 52000, 104000, 208000, 416000, 833000, 1666000, 3333000, 6666000, 1600)


class FakeLSM6DSOX(FakeAccelChip):
    _RESET_VALUES = ((_WHO_AM_I, WHO_AM_I_VALUE), (_CTRL3_C, _IF_INC))
    _READ_ONLY = (_WHO_AM_I, _FIFO_STATUS1, _FIFO_STATUS2) + tuple(range(_FIFO_DATA_OUT_TAG, 0x100))
    # Bursts over the FIFO output roll back from Z_H to the tag: the Linux st_lsm6dsx driver
    # reads several tagged words in one transfer.
    _SOFT_RESET = (_CTRL3_C, _SW_RESET)  # completes at once here
    _AUTO_INCREMENT = (_CTRL3_C, _IF_INC)
    _NEXT_REG = {_FIFO_DATA_OUT_Z_H: _FIFO_DATA_OUT_TAG}

    def __init__(self, samples=None):
        super().__init__(FIFO_WORDS, 7, samples)  # a ring of tagged words: TAG, then x, y, z little-endian

    def _reset(self):
        self._tag_cnt = 0
        super()._reset()

    def _clear_fifo(self):
        super()._clear_fifo()
        self._full = False             # FIFO_OVR_IA: full and a word was overwritten
        self._overrun_latched = False  # FIFO_OVR_LATCHED: cleared by reading FIFO_STATUS2

    def _store(self, x, y, z):
        mode = self.regs[_FIFO_CTRL4] & 0x07
        if mode == _MODE_BYPASS:
            return
        if self._count == FIFO_WORDS:
            if mode == _MODE_FIFO:
                self.samples_lost += 1
                return
            self._drop_oldest(1)
            self._full = True
            self._overrun_latched = True
            self.samples_lost += 1
        at = self._append_slot()
        tag = TAG_XL_NC << 3 | self._tag_cnt << 1
        ones = 0
        for bit in range(1, 8):
            ones += tag >> bit & 1
        w = self._fifo
        w[at] = tag | (ones & 1)  # TAG_PARITY (driver does not use it)
        self._tag_cnt = (self._tag_cnt + 1) & 3
        w[at + 1] = x & 0xFF
        w[at + 2] = (x >> 8) & 0xFF
        w[at + 3] = y & 0xFF
        w[at + 4] = (y >> 8) & 0xFF
        w[at + 5] = z & 0xFF
        w[at + 6] = (z >> 8) & 0xFF
        self.samples_stored += 1

    def _read_reg(self, reg):
        if reg == _FIFO_STATUS1:
            return self._count & 0xFF
        if reg == _FIFO_STATUS2:
            wtm = self.regs[_FIFO_CTRL1] | (self.regs[_FIFO_CTRL2] & 0x01) << 8
            status = self._count >> 8
            if wtm and self._count >= wtm:
                status |= 0x80  # FIFO_WTM_IA
            if self._full:
                status |= 0x40  # FIFO_OVR_IA
            if self._count >= FIFO_WORDS - 1:
                status |= 0x20  # FIFO_FULL_IA: full at the next write
            if self._overrun_latched:
                status |= 0x08  # FIFO_OVR_LATCHED
                self._overrun_latched = False
            return status
        if _FIFO_DATA_OUT_TAG <= reg <= _FIFO_DATA_OUT_Z_H:
            if self._count == 0:
                self.empty_reads += 1
                return 0
            value = self._oldest(reg - _FIFO_DATA_OUT_TAG)
            if reg == _FIFO_DATA_OUT_Z_H:  # the last byte of a word releases it
                self._drop_oldest(1)
                self._full = False
            return value
        return self.regs[reg]

    def _write_reg(self, reg, value):
        self.regs[reg] = value
        if reg == _FIFO_CTRL3 and value & 0xF0:
            raise NotImplementedError("fake LSM6DSOX: gyroscope batching not modelled")
        if reg == _FIFO_CTRL4:
            if value & 0xF0:
                raise NotImplementedError("fake LSM6DSOX: timestamp/temperature batching not modelled")
            mode = value & 0x07
            if mode not in (_MODE_BYPASS, _MODE_FIFO, _MODE_CONTINUOUS):
                raise NotImplementedError("fake LSM6DSOX: FIFO_MODE %d not modelled" % mode)
            if mode == _MODE_BYPASS:
                self._clear_fifo()
        if reg in (_CTRL1_XL, _FIFO_CTRL3, _FIFO_CTRL4):
            odr = ODR_MHZ[self.regs[_CTRL1_XL] >> 4]
            bdr = ODR_MHZ[self.regs[_FIFO_CTRL3] & 0x0F]
            self._set_fifo_rate(min(odr, bdr) if odr and bdr else 0)
