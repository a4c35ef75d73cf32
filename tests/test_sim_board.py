"""The simulated board end to end: the real firmware under the real `micropython`, synced over a pty with the
real pyserial into SQLite, against `walkdose replay` of the very samples the board's fake IMU delivered.

Each test simulates about 40 minutes of a wearer ending now (the 3-hour recording 200; the simulator always
ends at this computer's clock, which sync sets on the board). The local zone is pinned so that now is around
noon: no midnight, no DST change inside the run.
"""
import datetime
import importlib.resources
import json
import os
import signal
import subprocess
import sys
from array import array

import numpy as np

from conftest import RUN_MIN
from synthetic import long_wear_csv
from walkdose import cli, placement, recording, replay, simulate
from walkdose.firmware.store import FLUSH_EVERY_MIN
from walkdose.sim.wearer import CountsFile, Wearer

RECORDING = str(importlib.resources.files("walkdose.recordings") / "Samsung_Jamie_Hard_InHand_1.csv")
RATE_MHZ = simulate.RATE_MHZ


def simulator(tmp_path, start, **faults):
    walk_at = start + datetime.timedelta(minutes=5)
    spec = f"{RECORDING}@{walk_at:%H:%M}x8"  # ~14 min of walking from 5 minutes in
    return simulate.Simulator([spec], str(tmp_path), start, **faults)


def sync(port, db, capsys):
    assert cli.main(["sync", "--port", port, "--db", db]) == 0
    capsys.readouterr()


def synced_minutes(db, capsys):
    assert cli.main(["export", "--json", "--minutes", "--db", db]) == 0
    return json.loads(capsys.readouterr().out)["minutes"]


def wearer_samples(sim, first, count):
    """The samples the board's fake IMU was fed, rendered by the same wearer under CPython."""
    config = sim.config
    wearer = Wearer(config["rate_mhz"], config["plan"], [CountsFile(p) for p in config["clips"]],
                    CountsFile(config["fidget"]), config["wake_s"], config["sleep_s"], config["start_s"])
    buf = array("h", bytes(6 * count))
    wearer.fill(buf, first, count)
    return np.frombuffer(buf, dtype=np.int16).reshape(-1, 3)


def replayed_minutes(sim, first_min, minutes):
    samples_per_min = RATE_MHZ * 60 // 1000
    counts = wearer_samples(sim, first_min * samples_per_min, minutes * samples_per_min)
    return replay.run("cython", [counts], RATE_MHZ, 4096)["minutes"]


def by_minute(minutes, start):
    """{minutes since the board was switched on: (walk_s, steps)} of the synced records."""
    start_s = int(start.astimezone().timestamp())
    return {(m["utc_epoch_s"] - start_s) // 60: (m["walk_s"], m["steps"]) for m in minutes}


def assert_synced_equal_replay(sim, db, start, capsys, run_min=RUN_MIN):
    synced = by_minute(synced_minutes(db, capsys), start)
    expected = replayed_minutes(sim, 0, run_min)
    closed = run_min - 2  # the last minute or two were still open on the board
    assert sum(expected[m]["steps"] for m in range(closed)) > 1000  # the walk is inside the compared span
    for m in range(closed):
        assert synced.get(m) == (expected[m]["walk_s"], min(255, expected[m]["steps"])), f"minute {m}"


def test_synced_minutes_equal_replay_of_the_same_samples(tmp_path, noon, capsys):
    db = str(tmp_path / "walkdose.sqlite")
    with simulator(tmp_path, noon) as sim:
        sim.wait_for("caught_up", 120)
        sync(sim.pty_path, db, capsys)
    assert_synced_equal_replay(sim, db, noon, capsys)


def test_a_three_hour_recording_is_worn_from_its_file(tmp_path, noon, capsys):
    """3 h at 52 Hz is 3.4 MB of counts, more than the board's 2 MB heap: loaded whole it was a MemoryError at
    boot. The board reads it as it plays: all of it, from 5 minutes into a run of 3 h 20 min ending now."""
    run_min = 200
    start = noon - datetime.timedelta(minutes=run_min - RUN_MIN)
    walk_at = start + datetime.timedelta(minutes=5)
    spec = f"{long_wear_csv(tmp_path / 'three_hours.csv', 3)}@{walk_at:%H:%M}"
    db = str(tmp_path / "walkdose.sqlite")
    with simulate.Simulator([spec], str(tmp_path), start) as sim:
        sim.wait_for("caught_up", 120)
        sync(sim.pty_path, db, capsys)
    assert sim.plan[0][2] == 1 and os.path.getsize(sim.config["clips"][0]) > 3 * 2 ** 20
    assert_synced_equal_replay(sim, db, start, capsys, run_min)
    # 12 walks of 10 minutes at 110 steps/min (tests/synthetic.py), every one counted
    steps = sum(m["steps"] for m in synced_minutes(db, capsys))
    assert 0.95 * 12 * 1100 <= steps <= 1.02 * 12 * 1100


def test_a_sync_killed_midway_then_repeated_loses_nothing_and_counts_nothing_twice(tmp_path, noon, capsys):
    db = str(tmp_path / "walkdose.sqlite")
    with simulator(tmp_path, noon) as sim:
        sim.wait_for("caught_up", 120)
        killed = subprocess.Popen([sys.executable, "-m", "walkdose.cli", "sync", "--port", sim.pty_path,
                                   "--db", db], stderr=subprocess.PIPE, text=True)
        for line in killed.stderr:
            if "to fetch" in line:
                killed.kill()
                break
        killed.wait()
        sync(sim.pty_path, db, capsys)
        first = synced_minutes(db, capsys)
        sync(sim.pty_path, db, capsys)
        again = synced_minutes(db, capsys)
    closed = RUN_MIN - 2
    assert again[:closed] == first[:closed]  # syncing twice changes nothing
    synced = by_minute(first, noon)
    expected = replayed_minutes(sim, 0, RUN_MIN)
    for m in range(closed):
        assert synced.get(m) == (expected[m]["walk_s"], min(255, expected[m]["steps"])), f"minute {m}"


def test_power_cuts_lose_at_most_the_unwritten_minutes(tmp_path, noon, capsys):
    cut_every = 12
    db = str(tmp_path / "walkdose.sqlite")
    with simulator(tmp_path, noon, power_cut_every_min=cut_every) as sim:
        boots = []
        sim.wait_for("caught_up", 120, on_event=lambda e: e["event"] == "boot" and boots.append(e["sim_s"]))
        sync(sim.pty_path, db, capsys)
    assert boots == [0, 720, 1440, 2160]
    synced = synced_minutes(db, capsys)
    # Each boot's detector starts afresh at its boot: replay each boot's samples on their own.
    expected_steps = 0
    lost_bound = 0
    for b, boot_s in enumerate(boots):
        end_min = boots[b + 1] // 60 if b + 1 < len(boots) else RUN_MIN - 2
        minutes = replayed_minutes(sim, boot_s // 60, end_min - boot_s // 60)[:end_min - boot_s // 60]
        expected_steps += sum(m["steps"] for m in minutes)
        if b + 1 < len(boots):  # a cut ends this boot: what was not yet written is gone
            lost_bound += sum(m["steps"] for m in minutes[-(FLUSH_EVERY_MIN + 1):])
    synced_steps = sum(m["steps"] for m in synced)
    assert expected_steps - lost_bound <= synced_steps <= expected_steps
    assert synced_steps > 1000
    # Every reboot lost the clock: the last boot's minutes are placed exactly from its uptime at the sync,
    # the earlier boots' chained back from it, marked estimated; all inside the run, give or take the
    # uncertainty of the cuts chained through.
    start_s = int(noon.astimezone().timestamp())
    margin_s = (len(boots) - 1) * placement.LOST_AT_CUT_S
    assert all(start_s - margin_s <= m["utc_epoch_s"] < start_s + RUN_MIN * 60 for m in synced)
    last_boot_s = start_s + boots[-1]
    assert all(m["estimated"] for m in synced if m["utc_epoch_s"] < last_boot_s - FLUSH_EVERY_MIN * 60)
    assert not any(m["estimated"] for m in synced if m["utc_epoch_s"] >= last_boot_s + 60)


def test_an_imu_that_stops_answering_leaves_its_minutes_empty_and_the_rest_counted(tmp_path, noon, capsys):
    db = str(tmp_path / "walkdose.sqlite")
    silent = (20 * 60, 28 * 60)  # during the walk's second half and after it
    with simulator(tmp_path, noon, imu_silent_s=list(silent)) as sim:
        sim.wait_for("caught_up", 120)
        sync(sim.pty_path, db, capsys)
    synced = by_minute(synced_minutes(db, capsys), noon)
    # No samples, no record: shown as no data, never as zero walking. (The chip's FIFO kept sampling, so its
    # last 13 s reach the detector when the bus answers again.)
    inside = [m for m in range(silent[0] // 60 + 1, silent[1] // 60 - 1) if m in synced]
    assert inside == []
    expected = replayed_minutes(sim, 0, RUN_MIN)
    for m in range(silent[0] // 60 - 1):  # before the fault: exact
        assert synced.get(m) == (expected[m]["walk_s"], min(255, expected[m]["steps"])), f"minute {m}"
    assert all(m in synced for m in range(silent[1] // 60 + 2, RUN_MIN - 2))  # and it carries on


def test_a_late_main_loop_overflows_the_fifo_and_the_driver_counts_it(tmp_path, noon, capsys):
    db = str(tmp_path / "walkdose.sqlite")
    stopped = []
    with simulator(tmp_path, noon, late=[3, 20000]) as sim:  # every 3 min, 20 s late: the FIFO holds 13 s
        sim.wait_for("caught_up", 120)
        sync(sim.pty_path, db, capsys)
        sim.stop()
        sim.wait_for("stopped", 30, on_event=stopped.append)
    assert stopped[-1]["imu_overflows"] >= RUN_MIN // 3 - 1
    synced_steps = sum(m["steps"] for m in synced_minutes(db, capsys))
    expected_steps = sum(m["steps"] for m in replayed_minutes(sim, 0, RUN_MIN)[:RUN_MIN - 2])
    # ~7 s of every 3 minutes never reach the detector: a few percent of the steps, no more.
    assert 0.85 * expected_steps <= synced_steps <= expected_steps


def test_walkdose_sim_serves_a_pty_at_its_link_until_interrupted(tmp_path, noon, capsys):
    """The command as a user runs it: it prints the port, keeps the link, answers a sync, stops on Ctrl-C."""
    link = tmp_path / "walkdose.pty"
    sim = subprocess.Popen([sys.executable, "-m", "walkdose.cli", "sim", "--recording", f"{RECORDING}@08:00x4",
                            "--days", "0", "--link", str(link)], stdout=subprocess.PIPE, text=True)
    lines = []
    for line in sim.stdout:
        lines.append(line)
        if "caught up" in line:
            break
    assert lines[0].startswith("walkdose sim: board on /dev/pts/") and os.readlink(link) in lines[0]
    db = str(tmp_path / "walkdose.sqlite")
    sync(str(link), db, capsys)
    sim.send_signal(signal.SIGINT)
    rest = sim.communicate(timeout=30)[0]
    assert sim.returncode == 0 and "board stopped" in rest and not os.path.lexists(link)
    walked = [m for m in synced_minutes(db, capsys) if m["walk_s"]]
    passes = np.tile(recording.load_counts(RECORDING, RATE_MHZ, 4096), (4, 1))  # what was walked from 08:00
    expected_s = replay.run("cython", [passes], RATE_MHZ, 4096)["walking_s"]
    assert abs(sum(m["walk_s"] for m in walked) - expected_s) <= 4
    assert datetime.datetime.fromtimestamp(walked[0]["utc_epoch_s"]).strftime("%H:%M") == "08:00"
