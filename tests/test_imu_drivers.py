"""What every IMU driver promises, checked against its register-level fake, on CPython, under the
real MicroPython unix port with the heap locked, and through mpy-cross.

The per-chip files (test_imu_<chip>.py) hold what only one datasheet says; they reuse the parts
table and helpers below.
"""
import os
import shutil
import subprocess
from array import array

import pytest
from hypothesis import given, settings, strategies as st

from firmware.imu_bmi270 import BMI270
from firmware.imu_lsm6ds3trc import LSM6DS3TRC
from firmware.imu_lsm6dsox import LSM6DSOX
from firmware.imu_mpu6886 import MPU6886
from sim.fake_bmi270 import CONFIG_BYTES, FakeBMI270
from sim.fake_i2c import FakeI2C
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC
from sim.fake_lsm6dsox import FakeLSM6DSOX
from sim.fake_mpu6886 import FakeMPU6886

# A stand-in for Bosch's config file: the fake checks where bytes land, not what they mean.
SYNTHETIC_BMI270_CONFIG = bytes((i * 31 + 7) & 0xFF for i in range(CONFIG_BYTES))


class Part:
    def __init__(self, name, driver, fake, address, id_reg, other_chip_id, fifo_samples, **kwargs):
        self.name = name
        self.driver = driver
        self.fake = fake
        self.address = address
        self.id_reg = id_reg
        self.other_chip_id = other_chip_id  # what a sibling chip would answer
        self.fifo_samples = fifo_samples
        self.kwargs = kwargs

    def __repr__(self):
        return self.name

    def rig(self, **kwargs):
        bus = FakeI2C()
        chip = bus.attach(self.address, self.fake())
        imu = self.driver(bus, **dict(self.kwargs, **kwargs))
        return bus, chip, imu


PARTS = [
    Part("lsm6ds3trc", LSM6DS3TRC, FakeLSM6DS3TRC, 0x6A, 0x0F, 0x69, 682),
    Part("lsm6dsox", LSM6DSOX, FakeLSM6DSOX, 0x6A, 0x0F, 0x6A, 512),
    Part("mpu6886", MPU6886, FakeMPU6886, 0x68, 0x75, 0x68, 128),
    Part("bmi270", BMI270, FakeBMI270, 0x68, 0x00, 0xD1, 292, config=SYNTHETIC_BMI270_CONFIG),
]


def ramp(n, start=0):
    """n samples whose x, y, z are distinct, walk the whole int16 range and hit both ends."""
    out = array("h")
    for i in range(start, start + n):
        out.append((i * 7919) % 65536 - 32768)
        out.append(-32768 if i % 5 == 0 else (i * 104729) % 65536 - 32768)
        out.append(32767 if i % 7 == 0 else -i)
    return out


def drain(imu, buf_samples=16):
    buf = array("h", [0] * (3 * buf_samples))
    out = array("h")
    while True:
        n = imu.read_fifo_into(buf)
        if not n:
            return out
        out.extend(buf[: 3 * n])


def us_for(rate_mhz, samples):
    """Microseconds after which exactly `samples` ticks of rate_mhz have passed."""
    return -(-samples * 1000000000 // rate_mhz)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_missing_chip_raises_enodev_naming_the_address(part):
    with pytest.raises(OSError, match="0x%02x" % part.address) as e:
        part.driver(FakeI2C(), **part.kwargs)
    assert e.value.args[0] == 19


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_a_sibling_chip_is_refused_naming_both_ids(part):
    bus = FakeI2C()
    chip = bus.attach(part.address, part.fake())
    chip.regs[part.id_reg] = part.other_chip_id
    with pytest.raises(ValueError, match="0x%02x.*expected" % part.other_chip_id):
        part.driver(bus, **part.kwargs)


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_samples_come_out_in_order_and_exact_including_extremes(part):
    bus, chip, imu = part.rig()
    fed = ramp(part.fifo_samples - 1)
    chip.feed(fed)
    chip.advance_us(us_for(imu.rate_mhz, part.fifo_samples - 1))
    out = drain(imu, buf_samples=50)
    assert list(out) == list(fed)
    assert -32768 in out and 32767 in out
    assert imu.overflows == 0 and chip.empty_reads == 0


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_partial_reads_leave_the_rest_for_the_next_call(part):
    bus, chip, imu = part.rig()
    fed = ramp(40)
    chip.feed(fed)
    chip.advance_us(us_for(imu.rate_mhz, 40))
    one = array("h", [0] * 5)  # not a whole number of samples: only whole ones are written
    assert imu.read_fifo_into(one) == 1 and list(one[:3]) == list(fed[:3])
    seven = array("h", [0] * 21)
    assert imu.read_fifo_into(seven) == 7 and list(seven) == list(fed[3:24])
    assert list(drain(imu, buf_samples=5)) == list(fed[24:])
    assert chip.empty_reads == 0


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_an_empty_fifo_reads_zero_samples_without_touching_the_data_register(part):
    bus, chip, imu = part.rig()
    assert imu.read_fifo_into(array("h", [0] * 30)) == 0
    assert chip.empty_reads == 0


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_watermark_reached_after_watermark_samples(part):
    bus, chip, imu = part.rig(watermark_samples=10)
    chip.advance_us(us_for(imu.rate_mhz, 9))
    assert not imu.watermark_reached()
    chip.advance_us(us_for(imu.rate_mhz, 10) - us_for(imu.rate_mhz, 9))
    assert imu.watermark_reached()
    drain(imu)
    assert not imu.watermark_reached()


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_default_watermark_is_about_one_and_a_half_seconds(part):
    bus, chip, imu = part.rig()
    assert imu.rate_mhz * 1 // 1000 <= imu.watermark_samples <= imu.rate_mhz * 2 // 1000


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_chip_that_stops_answering_raises_oserror(part):
    bus, chip, imu = part.rig()
    chip.advance_us(us_for(imu.rate_mhz, 5))
    chip.answering = False
    with pytest.raises(OSError):
        imu.read_fifo_into(array("h", [0] * 30))


@pytest.mark.parametrize("part", PARTS, ids=repr)
@settings(max_examples=40, deadline=None)
@given(schedule=st.lists(st.tuples(st.integers(0, 3000000), st.integers(1, 40)), min_size=1, max_size=20))
def test_any_schedule_of_waits_and_reads_is_exact_or_reports_its_loss(part, schedule):
    bus, chip, imu = part.rig()
    fed = ramp(3000)
    chip.feed(fed)
    out = array("h")
    for wait_us, buf_samples in schedule:
        chip.advance_us(wait_us)
        buf = array("h", [0] * (3 * buf_samples))
        n = imu.read_fifo_into(buf)
        out.extend(buf[: 3 * n])
    out.extend(drain(imu))
    if chip.samples_lost:
        assert imu.overflows >= 1
    else:
        assert list(out) == list(fed[: len(out)])
        assert len(out) == 3 * chip.samples_stored
        assert imu.overflows == 0
    assert chip.empty_reads == 0


MICROPYTHON_SCENARIO = """
import micropython
from array import array
from firmware.%(module)s import %(driver)s
from sim.fake_i2c import FakeI2C
from sim.%(fake_module)s import %(fake)s

def ramp(n):
    out = array("h")
    for i in range(n):
        out.append((i * 7919) %% 65536 - 32768)
        out.append(-32768 if i %% 5 == 0 else (i * 104729) %% 65536 - 32768)
        out.append(32767 if i %% 7 == 0 else -i)
    return out

def main():
    bus = FakeI2C()
    chip = bus.attach(%(address)d, %(fake)s())
    imu = %(driver)s(bus%(kwargs)s)
    fed = ramp(%(samples)d)
    chip.feed(fed)
    chip.advance_us(-(-%(samples)d * 1000000000 // imu.rate_mhz))
    buf = array("h", [0] * 21)
    got = array("h", [0] * len(fed))
    counts = array("i", [0] * 200)
    micropython.heap_lock()
    try:
        for call in range(200):
            counts[call] = imu.read_fifo_into(buf)
            at = 0
            for c in range(call):
                at += counts[c]
            for i in range(3 * counts[call]):
                got[3 * at + i] = buf[i]
    finally:
        micropython.heap_unlock()
    total = sum(counts)
    print("samples", total, "exact", list(got) == list(fed), "overflows", imu.overflows)

main()
"""


@pytest.mark.skipif(shutil.which("micropython") is None, reason="needs the micropython unix port")
@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_driver_and_fake_run_under_micropython_without_allocating(part, tmp_path):
    module = part.driver.__module__.split(".")[-1]
    fake_module = part.fake.__module__.split(".")[-1]
    kwargs = ""
    if "config" in part.kwargs:
        (tmp_path / "bmi270_config.bin").write_bytes(part.kwargs["config"])
        kwargs = ", config=%r" % str(tmp_path / "bmi270_config.bin")
    samples = part.fifo_samples - 1
    script = tmp_path / "scenario.py"
    script.write_text(MICROPYTHON_SCENARIO % dict(module=module, driver=part.driver.__name__, fake_module=fake_module,
                                                  fake=part.fake.__name__, address=part.address, kwargs=kwargs,
                                                  samples=samples))
    result = subprocess.run(["micropython", str(script)], cwd=REPO, env=dict(os.environ, MICROPYPATH=REPO),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["samples", str(samples), "exact", "True", "overflows", "0"]


DRIVER_FILES = ["imu_lsm6ds3trc.py", "imu_lsm6dsox.py", "imu_bmi270.py", "imu_mpu6886.py", "imu.py", "compat.py"]
# nRF52840 (XIAO Sense, Nano 33 BLE Sense) is a Cortex-M4F; the RP2040 and ESP32 builds differ. The shared
# files (viper code in imu.py) run on all three.
ALL_MARCH = ("armv7emsp", "armv6m", "xtensawin")
MARCH = {"imu_lsm6ds3trc.py": ("armv7emsp",), "imu_bmi270.py": ("armv7emsp",), "imu_lsm6dsox.py": ("armv6m",),
         "imu_mpu6886.py": ("xtensawin",), "imu.py": ALL_MARCH, "compat.py": ALL_MARCH}


@pytest.mark.skipif(shutil.which("mpy-cross") is None, reason="needs mpy-cross")
@pytest.mark.parametrize("name, march", [(name, march) for name in DRIVER_FILES for march in MARCH[name]])
def test_mpy_cross_compiles_the_driver_for_its_board(name, march, tmp_path):
    out = tmp_path / name.replace(".py", ".mpy")
    result = subprocess.run(["mpy-cross", "-march=" + march, "-o", str(out), os.path.join(REPO, "firmware", name)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("big_endian", (0, 1))
def test_frames_into_copies_16_bit_words_as_twos_complement(big_endian):
    from walkdose.firmware.imu import frames_into
    # Two 7-byte frames (a tag byte, then x, y, z) after one byte of padding; words chosen by hand.
    words = ((0x0001, 0x7FFF, 0x8000), (0xFFFF, 0x1234, 0xFF00))
    scratch = bytearray(b"\xee")
    for frame in words:
        scratch.append(0xAA)
        for w in frame:
            scratch += bytes((w >> 8, w & 0xFF)) if big_endian else bytes((w & 0xFF, w >> 8))
    buf = array("h", [99] * 9)
    frames_into(buf, 3, scratch, 2, 2, 7, big_endian)
    assert list(buf) == [99, 99, 99, 1, 32767, -32768, -1, 4660, -256]
    with pytest.raises(IndexError):
        frames_into(buf, 6, scratch, 2, 2, 7, big_endian)  # past the end of buf
    with pytest.raises(IndexError):
        frames_into(buf, 0, scratch, 3, 2, 7, big_endian)  # past the end of scratch
