"""The firmware detector on a 32-bit MicroPython: the WebAssembly port (npm, MIT) under Node.js. Its small
ints are 31-bit as on the boards, so an intermediate past +/-2^30 becomes a long int, which allocates and,
with the heap locked around every batch, raises MemoryError. The unix port's 63-bit ints hide exactly that;
test_detector_bounds.py proves the stricter +/-2^29 by instrumentation, this runs the real thing."""
import os
import shutil
import subprocess

import pytest

from walkdose import recording, replay

from conftest import REPO
from test_detector_bounds import SIGNALS
from test_detector_micropython import firmware_without_pre_shift, run_locked, write_counts

PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.28.0-6"  # the same MicroPython release as the unix port the suite uses
DRIVER = os.path.join(REPO, "tests", "wasm32_driver.mjs")


@pytest.fixture(scope="module")
def wasm_port(tmp_path_factory):
    """The package folder of MicroPython's WebAssembly port, installed from npm for this run."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js and npm are needed for the 32-bit MicroPython run")
    prefix = tmp_path_factory.mktemp("mpwasm")
    done = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent",
                           f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:  # offline, or the registry refused: nothing to test with, which is not a failure
        pytest.skip(f"npm could not install {PACKAGE}@{VERSION}: {done.stderr.strip()[-300:] or 'no message'}")
    return str(prefix / "node_modules" / PACKAGE)


def run_wasm(package, repo, counts, rate_mhz, counts_per_g, tmp_path):
    """sim/replay_driver.py's locked mode: (samples, steps, minute records), or the failure's output."""
    raw = write_counts(counts, tmp_path)
    done = subprocess.run(["node", DRIVER, package, repo, str(raw), str(rate_mhz), str(counts_per_g)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        return done.stdout + done.stderr
    return [int(v) for v in done.stdout.split()]


def test_shipped_recording_agrees_with_cpython_with_31_bit_ints(wasm_port, tmp_path):
    counts = recording.load_counts(os.path.join(REPO, "recordings", "Samsung_Jamie_Hard_InHand_1.csv"), 52000)
    expected = replay.run("python", [counts], 52000, 4096)
    assert run_wasm(wasm_port, REPO, counts, 52000, 4096, tmp_path) == [
        len(counts), expected["steps"], len(expected["minutes"])]


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("rate_mhz, counts_per_g", ((12500, 16384), (104000, 1024), (50000, 4096)))
def test_hostile_signals_never_leave_small_ints(wasm_port, tmp_path, name, rate_mhz, counts_per_g):
    counts = SIGNALS[name](rate_mhz * 185 // 1000)  # three minutes: rollovers and the report lag
    out = run_wasm(wasm_port, REPO, counts, rate_mhz, counts_per_g, tmp_path)
    assert isinstance(out, list) and out[0] == len(counts), out


def test_an_overflow_fails_here_and_passes_unnoticed_on_the_unix_port(wasm_port, micropython, tmp_path):
    # Without the pre-shift, |a|^2 of full-scale counts is 3 x 2^30: a long int on 31-bit small ints.
    copy, _ = firmware_without_pre_shift(tmp_path, "x")
    counts = SIGNALS["saturated square"](2000)
    assert "MemoryError" in run_wasm(wasm_port, str(copy), counts, 50000, 4096, tmp_path)
    assert run_locked(micropython, counts, 50000, tmp_path, root=str(copy))[0] == 2000
