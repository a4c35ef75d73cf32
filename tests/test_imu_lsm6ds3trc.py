"""LSM6DS3TR-C driver against its register-level fake (DocID030071 Rev 3, AN5130 Rev 1)."""
import pytest

from firmware.imu_lsm6ds3trc import LSM6DS3TRC
from sim.fake_i2c import FakeI2C
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC
from test_imu_drivers import drain, ramp, us_for

ADDRESS = 0x6A
FIFO_SAMPLES = 682  # AN5130 figures 28-29: 2046 words with the accelerometer alone


@pytest.fixture
def rig():
    bus = FakeI2C()
    chip = bus.attach(ADDRESS, FakeLSM6DS3TRC())
    return bus, chip


@pytest.mark.parametrize("rate_mhz, odr_code, actual_mhz", [
    (1, 1, 12500), (12500, 1, 12500), (25000, 2, 26000), (26000, 2, 26000),
    (50000, 3, 52000), (52000, 3, 52000), (100000, 4, 104000), (104000, 4, 104000),
])
@pytest.mark.parametrize("counts_per_g, fs_bits", [(16384, 0b00), (8192, 0b10), (4096, 0b11), (2048, 0b01)])
def test_rate_and_full_scale_follow_tables_41_and_52(rig, rate_mhz, odr_code, actual_mhz, counts_per_g, fs_bits):
    bus, chip = rig
    imu = LSM6DS3TRC(bus, rate_mhz=rate_mhz, counts_per_g=counts_per_g)
    assert imu.rate_mhz == actual_mhz
    assert imu.counts_per_g == counts_per_g
    assert chip.regs[0x10] == odr_code << 4 | fs_bits << 2      # CTRL1_XL
    assert chip.regs[0x11] == 0                                 # CTRL2_G: gyro powered down
    assert chip.regs[0x12] == 0x44                              # CTRL3_C: BDU | IF_INC
    assert chip.regs[0x08] == 0x01                              # FIFO_CTRL3: accel, no decimation
    assert chip.regs[0x0A] == odr_code << 3 | 0b110             # FIFO_CTRL5: same ODR, continuous


def test_default_watermark_is_one_and_a_half_seconds_in_words(rig):
    bus, chip = rig
    imu = LSM6DS3TRC(bus)
    assert imu.watermark_samples == 78  # 1.5 s at 52 Hz
    assert chip.regs[0x06] | (chip.regs[0x07] & 0x07) << 8 == 3 * 78  # FTH counts 16-bit words


@pytest.mark.parametrize("bad", [dict(rate_mhz=0), dict(rate_mhz=7000000), dict(counts_per_g=1000)])
def test_unsupported_settings_are_refused(rig, bad):
    with pytest.raises(ValueError):
        LSM6DS3TRC(rig[0], **bad)


def test_stale_fifo_from_before_a_warm_restart_is_discarded(rig):
    bus, chip = rig
    LSM6DS3TRC(bus)
    chip.feed(ramp(20))
    chip.advance_us(us_for(52000, 20))
    chip.feed(ramp(5, start=100))
    imu = LSM6DS3TRC(bus)  # the firmware restarted; the reset clears the FIFO
    chip.advance_us(us_for(52000, 5) + 1)
    assert list(drain(imu)) == list(ramp(5, start=100))


def test_the_fake_samples_at_the_configured_rate(rig):
    bus, chip = rig
    imu = LSM6DS3TRC(bus, rate_mhz=12500)
    chip.advance_us(2000000)
    assert len(drain(imu)) == 3 * 25


def test_overrun_keeps_the_newest_samples_and_is_counted_once(rig):
    bus, chip = rig
    imu = LSM6DS3TRC(bus)
    fed = ramp(FIFO_SAMPLES + 100)
    chip.feed(fed)
    chip.advance_us(us_for(52000, FIFO_SAMPLES + 100))
    assert chip.samples_lost == 100
    out = drain(imu, buf_samples=64)
    assert list(out) == list(fed[3 * 100:])
    assert imu.overflows == 1
    chip.feed(ramp(4, start=5000))
    chip.advance_us(us_for(52000, FIFO_SAMPLES + 104) - us_for(52000, FIFO_SAMPLES + 100))
    assert list(drain(imu)) == list(ramp(4, start=5000))
    assert imu.overflows == 1
    assert chip.empty_reads == 0


def test_pattern_realigns_after_a_torn_sample(rig):
    bus, chip = rig
    imu = LSM6DS3TRC(bus)
    fed = ramp(10)
    chip.feed(fed)
    chip.advance_us(us_for(52000, 10))
    bus.readfrom_mem(ADDRESS, 0x3E, 2)  # someone took the x word of the first sample only
    assert list(drain(imu)) == list(fed[3:])


def test_overrun_while_mid_sample_still_yields_whole_newest_samples(rig):
    bus, chip = rig
    imu = LSM6DS3TRC(bus)
    fed = ramp(FIFO_SAMPLES + 50)
    chip.feed(fed)
    chip.advance_us(us_for(52000, 1))
    bus.readfrom_mem(ADDRESS, 0x3E, 2)  # torn: y, z of sample 0 remain
    chip.advance_us(us_for(52000, FIFO_SAMPLES + 50) - us_for(52000, 1))
    out = drain(imu, buf_samples=64)
    n = len(out) // 3
    assert n >= FIFO_SAMPLES - 1
    assert list(out) == list(fed[len(fed) - 3 * n:])
    assert imu.overflows == 1


