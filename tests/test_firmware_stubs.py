"""firmware/ type-checked (basedpyright, basic mode) against each board's MicroPython stubs (micropython-stubs on
PyPI, MIT): the calls it makes on `machine`, `time`, `sys` and the rest exist on that port with those arguments.
The stub packages are installed once per version into walkdose's cache folder (pip --target: each holds the same
module names, so they cannot share one environment)."""
import json
import os
import subprocess
import sys
import tempfile

import platformdirs
import pytest

from walkdose import commands
from walkdose.errors import UserError

from conftest import REPO

STUBS = {  # board profile -> its stub package, one per MicroPython port the profiles name
    "xiao-nrf52840-sense": "micropython-nrf-seeed-xiao-nrf52-stubs==1.29.0.post1",
    "nano33-ble-sense-rev2": "micropython-nrf-stubs==1.29.0.post1",
    "nano-rp2040-connect": "micropython-rp2-arduino-nano-rp2040-connect-stubs==1.29.0.post1",
    "m5stickc-plus2": "micropython-esp32-stubs==1.29.0.post1",
}


def installed_stubs(requirement):
    """A folder holding the stub package and its micropython-stdlib-stubs (typeshed's place for this port)."""
    root = os.path.join(platformdirs.user_cache_dir("walkdose"), "stubs")
    folder = os.path.join(root, requirement.replace("==", "-"))
    if os.path.isdir(folder):
        return folder
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as work:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", work, requirement],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"pip could not install {requirement}: {done.stderr.strip()[-500:]}")
        try:
            os.rename(work, folder)
            os.makedirs(work)  # for TemporaryDirectory's cleanup
        except OSError:
            if not os.path.isdir(folder):  # else another run installed it first
                raise
    return folder


@pytest.fixture(scope="module")
def checker():
    try:
        return commands.find("basedpyright")
    except UserError as exc:
        pytest.skip(f"the type checker is not installed (the test extra has it): {exc}")


@pytest.mark.parametrize("board", sorted(STUBS))
def test_firmware_type_checks_against_the_boards_stubs(checker, board, tmp_path):
    stubs = installed_stubs(STUBS[board])
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({
        "include": [os.path.join(REPO, "firmware")], "extraPaths": [REPO], "typeCheckingMode": "basic",
        "typeshedPath": stubs, "stubPath": stubs,
        "reportMissingModuleSource": "none",  # stubs stand for modules built into the firmware
    }))
    done = subprocess.run([checker, "--project", str(config), "--outputjson"], capture_output=True, text=True,
                          timeout=300)
    report = json.loads(done.stdout)
    errors = [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
              for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert report["summary"]["filesAnalyzed"] >= 15
    assert errors == []
