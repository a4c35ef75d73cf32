"""Bosch BMI270 accelerometer FIFO driver (Arduino Nano 33 BLE Sense Rev2): x, y, z counts out of the FIFO.

Follows datasheet BST-BMI270-DS000: 4.3 initialisation (config file upload through INIT_CTRL 59h,
INIT_ADDR_0/1 5Bh/5Ch, INIT_DATA 5Eh; INTERNAL_STATUS 21h), 4.7 FIFO in header mode (frame 0x84 =
accelerometer x, y, z little-endian; 0x40 skip frame after overflow; FIFO_LENGTH_0/1 24h/25h,
FIFO_DATA 26h, FIFO_WTM_0/1 46h/47h, FIFO_CONFIG_0/1 48h/49h) and the register map (CHIP_ID 00h,
ACC_CONF 40h, ACC_RANGE 41h, PWR_CONF 7Ch, PWR_CTRL 7Dh, CMD 7Eh).

The chip needs Bosch's 8192-byte config file before it measures: firmware/bmi270_config.bin
(bmi270_config_file of BMI270_SensorAPI v2.34.0, BSD-3-Clause, notice in bmi270_config.LICENSE),
which `walkdose flash` copies beside this module; pass its path, or its bytes, as `config`.
Allocates nothing after __init__.
"""
import time

from .compat import const
from .imu import ByteRegisters, burst_views, check_chip_id, full_scale_code, rate_index, frames_into, watermark_samples_for

_CHIP = "BMI270"
_CHIP_ID = const(0x00)
_INTERNAL_STATUS = const(0x21)
_FIFO_LENGTH_0 = const(0x24)
_FIFO_DATA = const(0x26)
_ACC_CONF = const(0x40)
_ACC_RANGE = const(0x41)
_FIFO_WTM_0 = const(0x46)
_FIFO_CONFIG_0 = const(0x48)
_INIT_CTRL = const(0x59)
_INIT_ADDR_0 = const(0x5B)
_INIT_DATA = const(0x5E)
_PWR_CONF = const(0x7C)
_PWR_CTRL = const(0x7D)
_CMD = const(0x7E)

_CHIP_ID_VALUE = const(0x24)
_SOFTRESET = const(0xB6)
_INIT_OK = const(0x01)
_ACC_EN = const(0x04)
_ACC_PERF_NORMAL_AVG4 = const(0xA0)  # acc_filter_perf=1, acc_bwp=normal
_FIFO_STREAM = const(0x00)  # FIFO_CONFIG_0: overwrite the oldest frames when full, no sensortime frame
_FIFO_ACC_HEADER = const(0x50)  # FIFO_CONFIG_1: fifo_acc_en | fifo_header_en
_FIFO_SELF_WAKE_UP = const(0x02)  # PWR_CONF with advanced power save off

_HEADER_ACC = const(0x84)
_HEADER_SKIP = const(0x40)
_HEADER_SENSORTIME = const(0x44)
_HEADER_CONFIG_CHANGE = const(0x48)

CONFIG_BYTES = const(8192)
_UPLOAD_CHUNK = const(64)
_FRAME_BYTES = const(7)
_FIFO_BYTES = const(2048)
_CHUNK_FRAMES = const(32)

# acc_odr codes 5..12 (12.5 Hz .. 1.6 kHz in performance mode), rate in mHz at index code - 5.
_ODR_MHZ = (12500, 25000, 50000, 100000, 200000, 400000, 800000, 1600000)
_RANGE_BY_COUNTS_PER_G = {16384: 0, 8192: 1, 4096: 2, 2048: 3}  # acc_range: 2, 4, 8, 16 g


class BMI270(ByteRegisters):
    def __init__(self, i2c, address=0x68, rate_mhz=50000, counts_per_g=4096, watermark_samples=None,
                 config="bmi270_config.bin"):
        super().__init__(i2c, address)
        self._length = bytearray(2)
        self._scratch = bytearray(_FRAME_BYTES * _CHUNK_FRAMES)
        self._bursts = burst_views(self._scratch, _FRAME_BYTES, _CHUNK_FRAMES)
        self._shorts = burst_views(self._scratch, 1, _FRAME_BYTES - 1)  # control frames alone: 2 or 4 bytes
        self.overflows = 0

        check_chip_id(_CHIP, self, _CHIP_ID, "CHIP_ID", _CHIP_ID_VALUE, "SDO")
        odr_code = rate_index(_CHIP, _ODR_MHZ, rate_mhz) + 5
        range_code = full_scale_code(_CHIP, _RANGE_BY_COUNTS_PER_G, counts_per_g)
        self.rate_mhz = _ODR_MHZ[odr_code - 5]
        self.counts_per_g = counts_per_g
        self.watermark_samples = watermark_samples_for(self.rate_mhz, watermark_samples,
                                                       _FIFO_BYTES // _FRAME_BYTES - 1)

        self._write_u8(_CMD, _SOFTRESET)
        time.sleep(0.002)  # 4.3: 2 ms after soft reset
        self._write_u8(_PWR_CONF, 0)  # advanced power save off: required while uploading
        time.sleep(0.0005)  # 450 us
        self._upload_config(config)
        self._write_u8(_PWR_CTRL, _ACC_EN)
        self._write_u8(_ACC_CONF, _ACC_PERF_NORMAL_AVG4 | odr_code)
        self._write_u8(_ACC_RANGE, range_code)
        wtm_bytes = _FRAME_BYTES * self.watermark_samples
        self._i2c.writeto_mem(address, _FIFO_WTM_0, bytes((wtm_bytes & 0xFF, wtm_bytes >> 8, _FIFO_STREAM, _FIFO_ACC_HEADER)))
        self._write_u8(_PWR_CONF, _FIFO_SELF_WAKE_UP)

    def _upload_config(self, config):
        chunk = bytearray(_UPLOAD_CHUNK)
        address_words = bytearray(2)
        source = blob = None
        if isinstance(config, str):
            try:
                source = open(config, "rb")
            except OSError:
                raise OSError(2, "BMI270: config file %r not found; copy Bosch's %d-byte bmi270_config_file "
                                 "(BMI270_SensorAPI, BSD-3-Clause) to the board under that name" % (config, CONFIG_BYTES))
        elif len(config) != CONFIG_BYTES:
            raise ValueError("BMI270: config is %d bytes; Bosch's bmi270_config_file has %d" % (len(config), CONFIG_BYTES))
        else:
            blob = memoryview(config)
        self._write_u8(_INIT_CTRL, 0)
        try:
            for at in range(0, CONFIG_BYTES, _UPLOAD_CHUNK):
                if blob is not None:
                    piece = blob[at:at + _UPLOAD_CHUNK]
                elif source is not None and source.readinto(chunk) == _UPLOAD_CHUNK:
                    piece = chunk
                else:
                    raise ValueError("BMI270: config file %r is shorter than %d bytes" % (config, CONFIG_BYTES))
                # INIT_ADDR counts 16-bit words: bits 3:0 in INIT_ADDR_0, the rest in INIT_ADDR_1.
                address_words[0] = (at // 2) & 0x0F
                address_words[1] = (at // 2) >> 4
                self._i2c.writeto_mem(self._address, _INIT_ADDR_0, address_words)
                self._i2c.writeto_mem(self._address, _INIT_DATA, piece)
        finally:
            if source is not None:
                source.close()
        self._write_u8(_INIT_CTRL, 1)
        time.sleep(0.02)  # 4.3: INTERNAL_STATUS is valid 20 ms after INIT_CTRL=1
        status = self._read_u8(_INTERNAL_STATUS) & 0x0F
        if status != _INIT_OK:
            raise OSError(5, "BMI270: INTERNAL_STATUS 0x%02x after config upload (0x01 = init_ok); "
                             "is the config file Bosch's bmi270_config_file?" % status)

    def _fifo_bytes(self):
        self._i2c.readfrom_mem_into(self._address, _FIFO_LENGTH_0, self._length)
        return self._length[0] | (self._length[1] & 0x3F) << 8

    def watermark_reached(self):
        """True when the FIFO holds at least watermark_samples frames."""
        return self._fifo_bytes() >= _FRAME_BYTES * self.watermark_samples

    def read_fifo_into(self, buf):
        """Move up to len(buf) // 3 whole samples into buf as x, y, z; return how many.

        A skip frame (the chip dropped frames on overflow) is counted in `overflows`; other
        control frames are skipped. A frame cut by the end of a burst is sent again whole by the
        next burst (4.7), so bursts need not know frame boundaries in advance.
        """
        i2c = self._i2c
        address = self._address
        scratch = self._scratch
        available = self._fifo_bytes()
        room = len(buf) // 3
        done = 0
        while available and done < room:
            frames = min(room - done, _CHUNK_FRAMES, available // _FRAME_BYTES)
            burst = self._bursts[frames] if frames else self._shorts[available]
            n = len(burst)
            i2c.readfrom_mem_into(address, _FIFO_DATA, burst)
            i = 0
            while i < n:
                header = scratch[i]
                if header == _HEADER_ACC:
                    if i + _FRAME_BYTES > n:
                        break  # cut by the burst: it comes again whole
                    frames_into(buf, 3 * done, scratch, i + 1, 1, _FRAME_BYTES, 0)
                    done += 1
                    i += _FRAME_BYTES
                elif header == _HEADER_SKIP or header == _HEADER_CONFIG_CHANGE:
                    if i + 2 > n:
                        break
                    if header == _HEADER_SKIP:
                        self.overflows += 1
                    i += 2
                elif header == _HEADER_SENSORTIME:
                    if i + 4 > n:
                        break
                    i += 4
                else:
                    return done  # 0x80: over-read, the FIFO is empty
            available -= i
            if i == 0:
                break
        return done
