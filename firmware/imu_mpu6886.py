"""TDK InvenSense MPU6886 accelerometer FIFO driver (M5StickC Plus2): x, y, z counts out of the FIFO.

Follows the MPU-6886 datasheet (DS-000193) register map: SMPLRT_DIV (19h), CONFIG (1Ah),
GYRO_CONFIG (1Bh), ACCEL_CONFIG/ACCEL_CONFIG2 (1Ch/1Dh), FIFO_EN (23h), INT_STATUS (3Ah),
USER_CTRL (6Ah), PWR_MGMT_1/2 (6Bh/6Ch), FIFO_COUNTH/L (72h/73h), FIFO_R_W (74h), WHO_AM_I (75h).
Knows nothing of steps; allocates nothing after __init__.
"""
from .compat import const
from .imu import (ByteRegisters, burst_views, check_chip_id, check_rate, full_scale_code, frames_into, soft_reset,
                  watermark_samples_for)

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)
_FIFO_EN = const(0x23)
_INT_STATUS = const(0x3A)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_PWR_MGMT_2 = const(0x6C)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_CHIP = "MPU6886"
_CHIP_ID = const(0x19)
_DEVICE_RESET = const(0x80)
_CLKSEL_AUTO = const(0x01)
_GYRO_STANDBY = const(0x07)  # PWR_MGMT_2 STBY_XG/YG/ZG; accelerometer stays on
_DLPF_CFG_1 = const(0x01)  # enables the 1 kHz internal rate that SMPLRT_DIV divides; FIFO_MODE=0 (overwrite)
_ACCEL_FIFO_EN = const(0x08)
_USER_FIFO_EN = const(0x40)
_FIFO_RST = const(0x04)
_FIFO_OFLOW_INT = const(0x10)

# Register 35 (23h) FIFO_EN: ACCEL_FIFO_EN writes ACCEL_X/Y/ZOUT_H/L and TEMP_OUT_H/L at the sample rate, so
# an accelerometer-only frame is 8 bytes (14 only with GYRO_FIFO_EN as well), big-endian.
_FRAME_BYTES = const(8)
_FIFO_BYTES = const(1024)
_CHUNK_FRAMES = const(32)
_INTERNAL_RATE_MHZ = const(1000000)  # 1 kHz

_FS_BY_COUNTS_PER_G = {16384: 0, 8192: 1, 4096: 2, 2048: 3}  # ACCEL_FS_SEL: 2, 4, 8, 16 g
# A_DLPF_CFG codes by 3 dB bandwidth in mHz, widest first; the widest below rate / 2 is used.
_ACCEL_DLPF = ((99000, 2), (44800, 3), (21200, 4), (10200, 5), (5100, 6))


class MPU6886(ByteRegisters):
    def __init__(self, i2c, address=0x68, rate_mhz=52000, counts_per_g=4096, watermark_samples=None):
        super().__init__(i2c, address)
        self._count = bytearray(2)
        self._scratch = bytearray(_FRAME_BYTES * _CHUNK_FRAMES)
        self._bursts = burst_views(self._scratch, _FRAME_BYTES, _CHUNK_FRAMES)
        self.overflows = 0

        check_chip_id(_CHIP, self, _WHO_AM_I, "WHO_AM_I", _CHIP_ID, "AD0")
        check_rate(_CHIP, rate_mhz, _INTERNAL_RATE_MHZ)
        fs_code = full_scale_code(_CHIP, _FS_BY_COUNTS_PER_G, counts_per_g)
        divider = min(255, _INTERNAL_RATE_MHZ // rate_mhz - 1)
        self.rate_mhz = _INTERNAL_RATE_MHZ // (1 + divider)
        self.counts_per_g = counts_per_g
        dlpf_code = 6
        for bandwidth_mhz, code in _ACCEL_DLPF:
            if 2 * bandwidth_mhz < self.rate_mhz:
                dlpf_code = code
                break
        self.watermark_samples = watermark_samples_for(self.rate_mhz, watermark_samples,
                                                       _FIFO_BYTES // _FRAME_BYTES - 1)

        soft_reset(_CHIP, self, _PWR_MGMT_1, _DEVICE_RESET, _DEVICE_RESET, "DEVICE_RESET")
        self._write_u8(_PWR_MGMT_1, _CLKSEL_AUTO)
        self._write_u8(_PWR_MGMT_2, _GYRO_STANDBY)
        self._write_u8(_SMPLRT_DIV, divider)
        self._write_u8(_CONFIG, _DLPF_CFG_1)
        self._write_u8(_GYRO_CONFIG, 0)
        self._write_u8(_ACCEL_CONFIG, fs_code << 3)
        self._write_u8(_ACCEL_CONFIG2, dlpf_code)
        self._write_u8(_FIFO_EN, _ACCEL_FIFO_EN)
        self._write_u8(_USER_CTRL, _USER_FIFO_EN | _FIFO_RST)

    def _frames(self):
        self._i2c.readfrom_mem_into(self._address, _FIFO_COUNTH, self._count)
        return ((self._count[0] & 0x1F) << 8 | self._count[1]) // _FRAME_BYTES

    def watermark_reached(self):
        """True when the FIFO holds at least watermark_samples frames."""
        return self._frames() >= self.watermark_samples

    def read_fifo_into(self, buf):
        """Move up to len(buf) // 3 whole samples into buf as x, y, z; return how many.

        After an overflow the FIFO may start mid-frame and nothing marks frame starts, so the
        FIFO is reset and its content dropped; the overflow is counted.
        """
        i2c = self._i2c
        address = self._address
        if self._read_u8(_INT_STATUS) & _FIFO_OFLOW_INT:
            self.overflows += 1
            self._write_u8(_USER_CTRL, _USER_FIFO_EN | _FIFO_RST)
            return 0
        wanted = min(len(buf) // 3, self._frames())
        scratch = self._scratch
        done = 0
        while done < wanted:
            n = min(wanted - done, _CHUNK_FRAMES)
            i2c.readfrom_mem_into(address, _FIFO_R_W, self._bursts[n])
            frames_into(buf, 3 * done, scratch, 0, n, _FRAME_BYTES, 1)  # big-endian words
            done += n
        return wanted
