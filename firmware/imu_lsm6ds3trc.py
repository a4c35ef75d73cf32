"""ST LSM6DS3TR-C accelerometer FIFO driver (Seeed XIAO nRF52840 Sense): x, y, z counts out of the FIFO.

Follows datasheet DocID030071 Rev 3 (5.5 FIFO, 6.3 I2C, 9.4-9.8 FIFO_CTRL1-5, 9.12 WHO_AM_I,
9.13-9.15 CTRL1_XL/CTRL2_G/CTRL3_C, 9.53-9.58 FIFO_STATUS1-4 and FIFO_DATA_OUT) and application
note AN5130 Rev 1 section 8 (FIFO). Knows nothing of steps; allocates nothing after __init__.
"""
from .compat import const
from .imu import (ByteRegisters, burst_views, check_chip_id, full_scale_code, frames_into, rate_index,
                  soft_reset, watermark_samples_for)

_FIFO_CTRL1 = const(0x06)
_FIFO_CTRL3 = const(0x08)
_FIFO_CTRL5 = const(0x0A)
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_L = const(0x3E)

_CHIP = "LSM6DS3TR-C"
_CHIP_ID = const(0x6A)
_SW_RESET = const(0x01)
_IF_INC = const(0x04)
_BDU = const(0x40)  # AN5130 8: IF_INC and BDU must be 1 when the FIFO is used
_DEC_FIFO_XL_1 = const(0x01)  # accelerometer data set in FIFO, no decimation (table 34)
_FIFO_MODE_CONTINUOUS = const(0x06)  # new samples overwrite the oldest when full (table 42)

_WATERM = const(0x80)
_OVER_RUN = const(0x40)
_FIFO_EMPTY = const(0x10)

_FIFO_WORDS = const(2046)  # one data set in FIFO: 682 x,y,z sets (AN5130 figures 28-29)
_CHUNK_SAMPLES = const(32)  # samples per I2C burst; 192 bytes of scratch

# ODR_XL and ODR_FIFO share codes 1..10 (tables 41, 52): rate in mHz at index code - 1.
_ODR_MHZ = (12500, 26000, 52000, 104000, 208000, 416000, 833000, 1660000, 3330000, 6660000)
# FS_XL code for each full scale, by counts per g (table 51; 0.061/0.122/0.244/0.488 mg/LSB).
_FS_BY_COUNTS_PER_G = {16384: 0, 8192: 2, 4096: 3, 2048: 1}


class LSM6DS3TRC(ByteRegisters):
    def __init__(self, i2c, address=0x6A, rate_mhz=52000, counts_per_g=4096, watermark_samples=None):
        super().__init__(i2c, address)
        self._status = bytearray(4)  # FIFO_STATUS1..4
        self._scratch = scratch = bytearray(6 * _CHUNK_SAMPLES)
        self._bursts = burst_views(scratch, 6, _CHUNK_SAMPLES)
        self._skips = burst_views(scratch, 2, 2)
        self.overflows = 0

        check_chip_id(_CHIP, self, _WHO_AM_I, "WHO_AM_I", _CHIP_ID, "SA0")
        odr_code = rate_index(_CHIP, _ODR_MHZ, rate_mhz) + 1
        fs_code = full_scale_code(_CHIP, _FS_BY_COUNTS_PER_G, counts_per_g)
        self.rate_mhz = _ODR_MHZ[odr_code - 1]
        self.counts_per_g = counts_per_g
        self.watermark_samples = watermark_samples_for(self.rate_mhz, watermark_samples, _FIFO_WORDS // 3 - 1)

        soft_reset(_CHIP, self, _CTRL3_C, _IF_INC | _SW_RESET, _SW_RESET, "SW_RESET")
        self._write_u8(_CTRL3_C, _BDU | _IF_INC)
        # AN5130 8.3.1: configure with the FIFO in bypass, then select the mode last.
        self._write_u8(_FIFO_CTRL5, 0)
        self._write_u8(_CTRL1_XL, odr_code << 4 | fs_code << 2)
        self._write_u8(_CTRL2_G, 0)
        fth_words = 3 * self.watermark_samples
        self._i2c.writeto_mem(address, _FIFO_CTRL1, bytes((fth_words & 0xFF, fth_words >> 8, _DEC_FIFO_XL_1, 0)))
        self._write_u8(_FIFO_CTRL5, odr_code << 3 | _FIFO_MODE_CONTINUOUS)

    def watermark_reached(self):
        """True when the FIFO holds at least watermark_samples (FIFO_STATUS2 WaterM)."""
        self._i2c.readfrom_mem_into(self._address, _FIFO_STATUS1, self._status)
        return bool(self._status[1] & _WATERM)

    def read_fifo_into(self, buf):
        """Move up to len(buf) // 3 whole samples into buf as x, y, z; return how many."""
        i2c = self._i2c
        address = self._address
        status = self._status
        i2c.readfrom_mem_into(address, _FIFO_STATUS1, status)
        if status[1] & _FIFO_EMPTY:
            return 0
        words = status[0] | (status[1] & 0x07) << 8
        if status[1] & _OVER_RUN:
            self.overflows += 1
            if not words:
                words = _FIFO_WORDS  # AN5130 table 64: DIFF_FIFO reads 0 on overrun
        # FIFO_PATTERN names the axis of the next word; an overrun can leave it mid-sample.
        skip = (3 - (status[2] | (status[3] & 0x03) << 8) % 3) % 3
        if skip:
            if skip > words:
                return 0
            i2c.readfrom_mem_into(address, _FIFO_DATA_OUT_L, self._skips[skip])
            words -= skip
        wanted = min(len(buf) // 3, words // 3)
        done = 0
        while done < wanted:
            n = min(wanted - done, _CHUNK_SAMPLES)
            i2c.readfrom_mem_into(address, _FIFO_DATA_OUT_L, self._bursts[n])
            frames_into(buf, 3 * done, self._scratch, 0, n, 6, 0)  # little-endian x, y, z words (AN5130 8.4)
            done += n
        return wanted
