"""Register-level fake of the TDK InvenSense MPU6886 FIFO (accelerometer + temperature frames).

Follows the MPU-6886 datasheet register map (SMPLRT_DIV 19h, CONFIG 1Ah, GYRO_CONFIG 1Bh,
ACCEL_CONFIG 1Ch/1Dh, FIFO_EN 23h, INT_STATUS 3Ah, USER_CTRL 6Ah, PWR_MGMT_1/2 6Bh/6Ch,
FIFO_COUNTH/L 72h/73h, FIFO_R_W 74h, WHO_AM_I 75h). Big-endian data, 1 KB FIFO, sample rate
1 kHz / (1 + SMPLRT_DIV) with the DLPF on. Fails loudly on clocks it does not model.
"""
from .fake_i2c import FakeAccelChip

WHO_AM_I_VALUE = 0x19
FIFO_BYTES = 1024
FRAME_BYTES = 8  # ACCEL_X/Y/Z then TEMP, each big-endian (temperature rides with the accelerometer)
TEMP_COUNTS = 0  # 25 degC

_SMPLRT_DIV = 0x19
_CONFIG = 0x1A
_GYRO_CONFIG = 0x1B
_FIFO_EN = 0x23
_INT_STATUS = 0x3A
_USER_CTRL = 0x6A
_PWR_MGMT_1 = 0x6B
_PWR_MGMT_2 = 0x6C
_FIFO_COUNTH = 0x72
_FIFO_COUNTL = 0x73
_FIFO_R_W = 0x74
_WHO_AM_I = 0x75

_FIFO_OFLOW_INT = 0x10
_USER_FIFO_EN = 0x40
_FIFO_RST = 0x04
_ACCEL_FIFO_EN = 0x08
_GYRO_FIFO_EN = 0x10


class FakeMPU6886(FakeAccelChip):
    _RESET_VALUES = ((_WHO_AM_I, WHO_AM_I_VALUE), (_PWR_MGMT_1, 0x40))  # SLEEP after reset
    _READ_ONLY = (_WHO_AM_I, _INT_STATUS, _FIFO_COUNTH, _FIFO_COUNTL)
    _SOFT_RESET = (_PWR_MGMT_1, 0x80)  # DEVICE_RESET completes at once here
    _NEXT_REG = {_FIFO_R_W: _FIFO_R_W}  # bursts on FIFO_R_W keep reading the FIFO

    def __init__(self, samples=None):
        super().__init__(FIFO_BYTES, 1, samples)

    def _reset(self):
        self._count_latch = 0
        super()._reset()

    def _store(self, x, y, z):
        regs = self.regs
        if not (regs[_USER_CTRL] & _USER_FIFO_EN and regs[_FIFO_EN] & _ACCEL_FIFO_EN):
            return
        if self._count + FRAME_BYTES > FIFO_BYTES:
            regs[_INT_STATUS] |= _FIFO_OFLOW_INT
            self.samples_lost += 1
            if regs[_CONFIG] & 0x40:  # FIFO_MODE=1: further writes are not written
                return
            drop = self._count + FRAME_BYTES - FIFO_BYTES  # FIFO_MODE=0: replace the oldest data
            self._drop_oldest(drop)
        for value in (x, y, z, TEMP_COUNTS):
            self._put((value >> 8) & 0xFF)
            self._put(value & 0xFF)
        self.samples_stored += 1

    def _read_reg(self, reg):
        if reg == _INT_STATUS:
            value = self.regs[reg]
            self.regs[reg] = 0  # cleared by reading
            return value
        if reg == _FIFO_COUNTH:
            self._count_latch = self._count  # reading the high byte latches both
            return self._count_latch >> 8
        if reg == _FIFO_COUNTL:
            return self._count_latch & 0xFF
        if reg == _FIFO_R_W:
            if not self._count:
                self.empty_reads += 1
                return 0xFF
            value = self._oldest(0)
            self._drop_oldest(1)
            return value
        return self.regs[reg]

    def _write_reg(self, reg, value):
        if reg == _USER_CTRL and value & _FIFO_RST:
            self._clear_fifo()
            value &= ~_FIFO_RST
        self.regs[reg] = value
        if reg == _FIFO_EN and value & _GYRO_FIFO_EN:
            raise NotImplementedError("fake MPU6886: gyroscope in FIFO not modelled")
        if reg in (_SMPLRT_DIV, _CONFIG, _GYRO_CONFIG, _USER_CTRL, _PWR_MGMT_1, _PWR_MGMT_2, _FIFO_EN):
            self._update_rate()

    def _update_rate(self):
        regs = self.regs
        running = not regs[_PWR_MGMT_1] & 0x40 and not regs[_PWR_MGMT_2] & 0x38
        fifo_on = regs[_USER_CTRL] & _USER_FIFO_EN and regs[_FIFO_EN] & _ACCEL_FIFO_EN
        if not (running and fifo_on):
            self._set_fifo_rate(0)
            return
        dlpf = regs[_CONFIG] & 0x07
        if regs[_GYRO_CONFIG] & 0x03 or not 1 <= dlpf <= 6:
            raise NotImplementedError("fake MPU6886: only the 1 kHz internal rate (DLPF_CFG 1..6) is modelled")
        self._set_fifo_rate(1000000 // (1 + regs[_SMPLRT_DIV]))
