"""BMI270 driver against its register-level fake (config upload, header-mode FIFO)."""
import pytest

from firmware.imu_bmi270 import BMI270
from sim.fake_bmi270 import FakeBMI270
from sim.fake_i2c import FakeI2C
from test_imu_drivers import SYNTHETIC_BMI270_CONFIG, drain, ramp, us_for

FIFO_FRAMES = 292  # 2048 bytes of 7-byte header-mode accelerometer frames


@pytest.fixture
def rig():
    bus = FakeI2C()
    chip = bus.attach(0x68, FakeBMI270())
    return bus, chip


def test_config_file_lands_byte_for_byte(rig, tmp_path):
    bus, chip = rig
    path = tmp_path / "bmi270_config.bin"
    path.write_bytes(SYNTHETIC_BMI270_CONFIG)
    BMI270(bus, config=str(path))
    assert bytes(chip.config) == SYNTHETIC_BMI270_CONFIG
    assert chip.regs[0x21] & 0x0F == 0x01  # INTERNAL_STATUS: init_ok


def test_missing_config_file_says_what_to_copy(rig, tmp_path):
    with pytest.raises(OSError, match="bmi270_config_file"):
        BMI270(rig[0], config=str(tmp_path / "absent.bin"))


def test_config_of_the_wrong_length_is_refused_before_upload(rig):
    bus, chip = rig
    with pytest.raises(ValueError, match="8192"):
        BMI270(bus, config=bytes(100))
    assert chip.regs[0x21] == 0


def test_chip_rejecting_the_config_raises(rig):
    bus = FakeI2C()
    bus.attach(0x68, FakeBMI270(config_ok=False))
    with pytest.raises(OSError, match="INTERNAL_STATUS 0x02"):
        BMI270(bus, config=SYNTHETIC_BMI270_CONFIG)


@pytest.mark.parametrize("rate_mhz, odr_code, actual_mhz", [
    (1, 5, 12500), (12500, 5, 12500), (25000, 6, 25000), (52000, 8, 100000), (50000, 7, 50000), (100000, 8, 100000),
])
@pytest.mark.parametrize("counts_per_g, acc_range", [(16384, 0), (8192, 1), (4096, 2), (2048, 3)])
def test_configuration_registers(rig, rate_mhz, odr_code, actual_mhz, counts_per_g, acc_range):
    bus, chip = rig
    imu = BMI270(bus, rate_mhz=rate_mhz, counts_per_g=counts_per_g, watermark_samples=20,
                 config=SYNTHETIC_BMI270_CONFIG)
    assert imu.rate_mhz == actual_mhz
    assert chip.regs[0x40] == 0xA0 | odr_code           # ACC_CONF: performance mode, normal bwp
    assert chip.regs[0x41] == acc_range                  # ACC_RANGE
    assert chip.regs[0x7D] == 0x04                       # PWR_CTRL: accelerometer only
    assert chip.regs[0x48] == 0x00                       # FIFO_CONFIG_0: stream, no sensortime
    assert chip.regs[0x49] == 0x50                       # FIFO_CONFIG_1: acc + header
    assert chip.regs[0x46] | chip.regs[0x47] << 8 == 7 * 20  # FIFO_WTM in bytes
    assert chip.regs[0x7C] == 0x02                       # PWR_CONF: adv_power_save off


def test_overflow_skip_frame_is_counted_and_the_newest_frames_kept(rig):
    bus, chip = rig
    imu = BMI270(bus, config=SYNTHETIC_BMI270_CONFIG)
    fed = ramp(FIFO_FRAMES + 25)
    chip.feed(fed)
    chip.advance_us(us_for(imu.rate_mhz, FIFO_FRAMES + 25))
    assert chip.samples_lost == 25
    assert list(drain(imu, buf_samples=40)) == list(fed[3 * 25:])
    assert imu.overflows == 1
    assert chip.empty_reads == 0
