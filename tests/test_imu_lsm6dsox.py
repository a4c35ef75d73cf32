"""LSM6DSOX driver against its register-level fake (DS12814: tagged FIFO, BDR, continuous mode)."""
import pytest

from firmware.imu_lsm6dsox import LSM6DSOX
from sim.fake_i2c import FakeI2C
from sim.fake_lsm6dsox import FakeLSM6DSOX
from test_imu_drivers import drain, ramp, us_for

FIFO_WORDS = 512


@pytest.fixture
def rig():
    bus = FakeI2C()
    chip = bus.attach(0x6A, FakeLSM6DSOX())
    return bus, chip


@pytest.mark.parametrize("rate_mhz, odr_code, actual_mhz", [
    (1, 1, 12500), (25000, 2, 26000), (52000, 3, 52000), (100000, 4, 104000),
])
@pytest.mark.parametrize("counts_per_g, fs_bits", [(16384, 0b00), (8192, 0b10), (4096, 0b11), (2048, 0b01)])
def test_odr_bdr_and_full_scale_registers(rig, rate_mhz, odr_code, actual_mhz, counts_per_g, fs_bits):
    bus, chip = rig
    imu = LSM6DSOX(bus, rate_mhz=rate_mhz, counts_per_g=counts_per_g, watermark_samples=300)
    assert imu.rate_mhz == actual_mhz
    assert chip.regs[0x10] == odr_code << 4 | fs_bits << 2   # CTRL1_XL
    assert chip.regs[0x11] == 0                              # CTRL2_G: gyro off
    assert chip.regs[0x12] == 0x44                           # CTRL3_C: BDU | IF_INC
    assert chip.regs[0x09] == odr_code                       # FIFO_CTRL3: BDR_XL = ODR, gyro not batched
    assert chip.regs[0x0A] == 0b110                          # FIFO_CTRL4: continuous
    assert chip.regs[0x07] | (chip.regs[0x08] & 1) << 8 == 300  # WTM[8:0] in words


def test_watermark_is_capped_by_the_nine_bit_field(rig):
    imu = LSM6DSOX(rig[0], watermark_samples=5000)
    assert imu.watermark_samples == 511


def test_overrun_keeps_the_newest_words_and_the_latch_is_counted_once(rig):
    bus, chip = rig
    imu = LSM6DSOX(bus)
    fed = ramp(FIFO_WORDS + 60)
    chip.feed(fed)
    chip.advance_us(us_for(52000, FIFO_WORDS + 60))
    assert chip.samples_lost == 60
    assert list(drain(imu, buf_samples=100)) == list(fed[3 * 60:])
    assert imu.overflows == 1
    chip.advance_us(us_for(52000, FIFO_WORDS + 61) - us_for(52000, FIFO_WORDS + 60))
    assert len(drain(imu)) == 3
    assert imu.overflows == 1


def test_an_overrun_seen_by_watermark_polling_is_still_counted(rig):
    bus, chip = rig
    imu = LSM6DSOX(bus)
    chip.advance_us(us_for(52000, FIFO_WORDS + 1))
    assert imu.watermark_reached()  # reading FIFO_STATUS2 clears FIFO_OVR_LATCHED
    drain(imu)
    assert imu.overflows == 1


def test_words_with_other_tags_are_skipped(rig):
    bus, chip = rig
    imu = LSM6DSOX(bus)
    fed = ramp(6)
    chip.feed(fed)
    chip.advance_us(us_for(52000, 6))
    chip._fifo[7 * 2] = 0x04 << 3  # the third word re-tagged as a timestamp word
    assert list(drain(imu)) == list(fed[:6]) + list(fed[9:])
