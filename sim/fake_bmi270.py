"""Register-level fake of the Bosch BMI270 FIFO in header mode (accelerometer frames only).

Follows datasheet BST-BMI270-DS000: 4.3 initialisation (INIT_CTRL 59h, INIT_ADDR_0/1 5Bh/5Ch,
INIT_DATA 5Eh, INTERNAL_STATUS 21h), 4.7 FIFO (header frames 0x84 accelerometer, 0x40 skip,
0x80 over-read; FIFO_LENGTH_0/1 24h/25h, FIFO_DATA 26h, FIFO_WTM_0/1 46h/47h,
FIFO_CONFIG_0/1 48h/49h) and the register map (CHIP_ID 00h, ACC_CONF 40h, ACC_RANGE 41h,
PWR_CONF 7Ch, PWR_CTRL 7Dh, CMD 7Eh). The config file itself is opaque here: any blob of
CONFIG_BYTES uploaded with advanced power save off initialises the fake.
"""
from .fake_i2c import FakeAccelChip

CHIP_ID_VALUE = 0x24
CONFIG_BYTES = 8192
FIFO_BYTES = 2048

_CHIP_ID = 0x00
_INTERNAL_STATUS = 0x21
_FIFO_LENGTH_0 = 0x24
_FIFO_LENGTH_1 = 0x25
_FIFO_DATA = 0x26
_ACC_CONF = 0x40
_FIFO_CONFIG_0 = 0x48
_FIFO_CONFIG_1 = 0x49
_INIT_CTRL = 0x59
_INIT_ADDR_0 = 0x5B
_INIT_ADDR_1 = 0x5C
_INIT_DATA = 0x5E
_PWR_CONF = 0x7C
_PWR_CTRL = 0x7D
_CMD = 0x7E

_SOFTRESET = 0xB6
_FIFO_FLUSH = 0xB0
_ACC_EN = 0x04
_FIFO_ACC_EN = 0x40
_FIFO_HEADER_EN = 0x10
_HEADER_ACC = 0x84
_HEADER_SKIP = 0x40
_OVER_READ = 0x80

# acc_odr codes 5..12 in mHz (12.5 Hz .. 1.6 kHz); lower codes need low-power mode, not modelled.
ODR_MHZ = {5: 12500, 6: 25000, 7: 50000, 8: 100000, 9: 200000, 10: 400000, 11: 800000, 12: 1600000}


class FakeBMI270(FakeAccelChip):
    _RESET_VALUES = (
        (_CHIP_ID, CHIP_ID_VALUE),
        (_PWR_CONF, 0x03),  # adv_power_save and fifo_self_wake_up on after reset
        (_ACC_CONF, 0xA8),
        (_FIFO_CONFIG_0, 0x02),
        (_FIFO_CONFIG_1, 0x10),
    )
    _READ_ONLY = (_CHIP_ID, _INTERNAL_STATUS, _FIFO_LENGTH_0, _FIFO_LENGTH_1, _FIFO_DATA)
    _NEXT_REG = {_FIFO_DATA: _FIFO_DATA, _INIT_DATA: _INIT_DATA}  # bursts there stream data

    def __init__(self, samples=None, config_ok=True):
        self.config_ok = config_ok  # False: the chip rejects any config file (INTERNAL_STATUS init_err)
        self.config = bytearray(CONFIG_BYTES)
        super().__init__(FIFO_BYTES, 1, samples)

    def _reset(self):
        self._initialised = False
        self._uploaded = 0
        self._init_offset = 0
        super()._reset()

    def _clear_fifo(self):
        super()._clear_fifo()
        self._skipped = 0   # frames dropped since the last read: reported by a skip frame
        self._cursor = 0    # bytes of the oldest frame already sent in the current burst

    # --- FIFO writes: whole 7-byte frames; stream mode drops the oldest frames ---

    def _store(self, x, y, z):
        regs = self.regs
        if not regs[_FIFO_CONFIG_1] & _FIFO_ACC_EN:
            return
        if self._count + 7 > FIFO_BYTES:
            self.samples_lost += 1
            if regs[_FIFO_CONFIG_0] & 0x01:  # fifo_stop_on_full
                return
            self._drop_oldest(7)
            self._skipped = min(self._skipped + 1, 0xFF)
        self._put(_HEADER_ACC)
        for value in (x, y, z):
            self._put(value & 0xFF)
            self._put((value >> 8) & 0xFF)
        self.samples_stored += 1

    def _length(self):
        return self._count + (2 if self._skipped else 0)

    # --- bus side ---

    def read_into(self, reg, buf):
        # Frames leave the FIFO as their last byte is read; a frame read only in part by a
        # burst stays in the FIFO and is sent whole by the next burst.
        self._cursor = 0
        super().read_into(reg, buf)

    def _read_reg(self, reg):
        if reg == _FIFO_LENGTH_0:
            return self._length() & 0xFF
        if reg == _FIFO_LENGTH_1:
            return self._length() >> 8
        if reg == _FIFO_DATA:
            return self._next_fifo_byte()
        return self.regs[reg]

    def _next_fifo_byte(self):
        at = self._cursor
        self._cursor = at + 1
        if self._skipped:
            if at == 0:
                return _HEADER_SKIP
            count = self._skipped
            self._skipped = 0
            self._cursor = 0
            return count
        if at >= self._count:
            self.empty_reads += 1
            return _OVER_READ
        value = self._oldest(at)
        if at == 6:
            self._drop_oldest(7)
            self._cursor = 0
        return value

    def _write_reg(self, reg, value):
        if reg == _CMD:
            if value == _SOFTRESET:
                self._reset()
            elif value == _FIFO_FLUSH:
                self._clear_fifo()
            return
        if reg == _INIT_DATA:
            at = 2 * (self.regs[_INIT_ADDR_0] & 0x0F | self.regs[_INIT_ADDR_1] << 4) + self._init_offset
            if at < CONFIG_BYTES and not self.regs[_PWR_CONF] & 0x01:
                self.config[at] = value
                self._uploaded += 1
            self._init_offset += 1
            return
        if reg in (_INIT_ADDR_0, _INIT_ADDR_1):
            self._init_offset = 0
        self.regs[reg] = value
        if reg == _INIT_CTRL:
            if value == 0x00:
                self._uploaded = 0
                self.regs[_INTERNAL_STATUS] = 0x00
            elif value == 0x01:
                self._initialised = self.config_ok and self._uploaded >= CONFIG_BYTES
                self.regs[_INTERNAL_STATUS] = 0x01 if self._initialised else 0x02
        if reg in (_ACC_CONF, _PWR_CTRL, _INIT_CTRL):
            self._update_rate()

    def _update_rate(self):
        regs = self.regs
        if not (self._initialised and regs[_PWR_CTRL] & _ACC_EN):
            self._set_fifo_rate(0)
            return
        code = regs[_ACC_CONF] & 0x0F
        if code not in ODR_MHZ or not regs[_ACC_CONF] & 0x80:
            raise NotImplementedError("fake BMI270: acc_odr code %d outside performance mode 12.5..1600 Hz" % code)
        self._set_fifo_rate(ODR_MHZ[code])
