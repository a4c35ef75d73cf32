"""MPU6886 driver against its register-level fake (1 kHz / (1 + SMPLRT_DIV), big-endian FIFO)."""
import pytest

from firmware.imu_mpu6886 import MPU6886
from sim.fake_i2c import FakeI2C
from sim.fake_mpu6886 import FakeMPU6886
from test_imu_drivers import drain, ramp, us_for

FIFO_FRAMES = 128  # 1024 bytes of 8-byte accelerometer + temperature frames


@pytest.fixture
def rig():
    bus = FakeI2C()
    chip = bus.attach(0x68, FakeMPU6886())
    return bus, chip


@pytest.mark.parametrize("rate_mhz, divider, actual_mhz", [
    (52000, 18, 52631), (50000, 19, 50000), (12500, 79, 12500), (100000, 9, 100000), (1000, 255, 3906),
])
def test_sample_rate_divider(rig, rate_mhz, divider, actual_mhz):
    bus, chip = rig
    imu = MPU6886(bus, rate_mhz=rate_mhz)
    assert chip.regs[0x19] == divider           # SMPLRT_DIV
    assert imu.rate_mhz == actual_mhz
    assert actual_mhz >= rate_mhz or divider == 255


@pytest.mark.parametrize("counts_per_g, fs_sel", [(16384, 0), (8192, 1), (4096, 2), (2048, 3)])
def test_configuration_registers(rig, counts_per_g, fs_sel):
    bus, chip = rig
    MPU6886(bus, counts_per_g=counts_per_g)
    assert chip.regs[0x1C] == fs_sel << 3     # ACCEL_CONFIG
    assert chip.regs[0x1A] == 0x01            # CONFIG: DLPF_CFG=1 (1 kHz internal), FIFO_MODE=0 (overwrite)
    assert chip.regs[0x1B] & 0x03 == 0        # GYRO_CONFIG: FCHOICE_B=00
    assert chip.regs[0x1D] == 4               # ACCEL_CONFIG2: A_DLPF 21.2 Hz, below 52.6 Hz / 2
    assert chip.regs[0x23] == 0x08            # FIFO_EN: accelerometer only
    assert chip.regs[0x6A] == 0x40            # USER_CTRL: FIFO_EN (FIFO_RST self-clears)
    assert chip.regs[0x6B] == 0x01            # PWR_MGMT_1: awake, auto clock
    assert chip.regs[0x6C] == 0x07            # PWR_MGMT_2: gyro standby


def test_overflow_resets_the_fifo_counts_and_later_samples_are_exact(rig):
    bus, chip = rig
    imu = MPU6886(bus)
    chip.feed(ramp(FIFO_FRAMES + 10))
    chip.advance_us(us_for(imu.rate_mhz, FIFO_FRAMES + 10))
    assert chip.samples_lost == 10
    assert len(drain(imu)) == 0  # the frame boundaries are lost: the driver drops the content
    assert imu.overflows == 1
    chip.feed(ramp(5, start=900))
    chip.advance_us(us_for(imu.rate_mhz, FIFO_FRAMES + 15) - us_for(imu.rate_mhz, FIFO_FRAMES + 10))
    assert list(drain(imu)) == list(ramp(5, start=900))
    assert imu.overflows == 1
