"""ST LSM6DSOX accelerometer FIFO driver (Arduino Nano RP2040 Connect): x, y, z counts out of the tagged FIFO.

Follows datasheet DS12814 (LSM6DSOX): 6.5 FIFO (7-byte words: TAG + 6 data, DIFF_FIFO in words,
continuous mode), registers FIFO_CTRL1-4 (07h-0Ah), WHO_AM_I (0Fh), CTRL1_XL (10h), CTRL2_G (11h),
CTRL3_C (12h), FIFO_STATUS1-2 (3Ah-3Bh), FIFO_DATA_OUT_TAG (78h). Style of micropython-lib's
lsm6dsox.py. Knows nothing of steps; allocates nothing after __init__.
"""
from .compat import const
from .imu import (ByteRegisters, burst_views, check_chip_id, full_scale_code, rate_index, frames_into, soft_reset,
                  watermark_samples_for)

_FIFO_CTRL1 = const(0x07)
_FIFO_CTRL3 = const(0x09)
_FIFO_CTRL4 = const(0x0A)
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_TAG = const(0x78)

_CHIP = "LSM6DSOX"
_CHIP_ID = const(0x6C)
_SW_RESET = const(0x01)
_IF_INC = const(0x04)
_BDU = const(0x40)
_FIFO_MODE_CONTINUOUS = const(0x06)
_TAG_XL_NC = const(0x02)  # TAG_SENSOR of an uncompressed accelerometer word

_FIFO_WTM_IA = const(0x80)
_FIFO_OVR_LATCHED = const(0x08)

_FIFO_WORDS = const(512)
_CHUNK_WORDS = const(32)  # words per I2C burst; 224 bytes of scratch

# ODR_XL and BDR_XL share codes 1..10, rate in mHz at index code - 1.
_ODR_MHZ = (12500, 26000, 52000, 104000, 208000, 416000, 833000, 1666000, 3333000, 6666000)
_FS_BY_COUNTS_PER_G = {16384: 0, 8192: 2, 4096: 3, 2048: 1}  # FS_XL: 2, 4, 8, 16 g


class LSM6DSOX(ByteRegisters):
    def __init__(self, i2c, address=0x6A, rate_mhz=52000, counts_per_g=4096, watermark_samples=None):
        super().__init__(i2c, address)
        self._status = bytearray(2)  # FIFO_STATUS1..2
        self._scratch = bytearray(7 * _CHUNK_WORDS)
        self._bursts = burst_views(self._scratch, 7, _CHUNK_WORDS)
        self.overflows = 0

        check_chip_id(_CHIP, self, _WHO_AM_I, "WHO_AM_I", _CHIP_ID, "SA0")
        odr_code = rate_index(_CHIP, _ODR_MHZ, rate_mhz) + 1
        fs_code = full_scale_code(_CHIP, _FS_BY_COUNTS_PER_G, counts_per_g)
        self.rate_mhz = _ODR_MHZ[odr_code - 1]
        self.counts_per_g = counts_per_g
        watermark_samples = watermark_samples_for(self.rate_mhz, watermark_samples, _FIFO_WORDS - 1)  # WTM[8:0]
        self.watermark_samples = watermark_samples

        soft_reset(_CHIP, self, _CTRL3_C, _IF_INC | _SW_RESET, _SW_RESET, "SW_RESET")
        self._write_u8(_CTRL3_C, _BDU | _IF_INC)
        self._write_u8(_FIFO_CTRL4, 0)  # bypass while configuring
        self._write_u8(_CTRL1_XL, odr_code << 4 | fs_code << 2)
        self._write_u8(_CTRL2_G, 0)
        # FIFO_CTRL1 WTM[7:0], FIFO_CTRL2 WTM8, FIFO_CTRL3 BDR_XL (gyro not batched).
        self._i2c.writeto_mem(address, _FIFO_CTRL1, bytes((watermark_samples & 0xFF, watermark_samples >> 8, odr_code)))
        self._write_u8(_FIFO_CTRL4, _FIFO_MODE_CONTINUOUS)

    def watermark_reached(self):
        """True when the FIFO holds at least watermark_samples words (FIFO_STATUS2 FIFO_WTM_IA)."""
        self._i2c.readfrom_mem_into(self._address, _FIFO_STATUS1, self._status)
        if self._status[1] & _FIFO_OVR_LATCHED:
            self.overflows += 1  # reading FIFO_STATUS2 cleared the latch: count it now
        return bool(self._status[1] & _FIFO_WTM_IA)

    def read_fifo_into(self, buf):
        """Move up to len(buf) // 3 whole samples into buf as x, y, z; return how many.

        Words tagged other than accelerometer are consumed and skipped.
        """
        i2c = self._i2c
        address = self._address
        status = self._status
        i2c.readfrom_mem_into(address, _FIFO_STATUS1, status)
        if status[1] & _FIFO_OVR_LATCHED:
            self.overflows += 1
        words = status[0] | (status[1] & 0x03) << 8
        room = len(buf) // 3
        scratch = self._scratch
        done = 0
        while words and done < room:
            n = min(words, room - done, _CHUNK_WORDS)
            i2c.readfrom_mem_into(address, _FIFO_DATA_OUT_TAG, self._bursts[n])
            words -= n
            for i in range(0, 7 * n, 7):
                if scratch[i] >> 3 == _TAG_XL_NC:
                    frames_into(buf, 3 * done, scratch, i + 1, 1, 7, 0)
                    done += 1
        return done
