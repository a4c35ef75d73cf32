"""The simulated wearer's day and the pieces `walkdose sim` builds it from, checked by hand."""
import ast
import datetime
import json
import os
import pathlib
import subprocess
import sys
from array import array

import numpy as np
import pytest

import synthetic
from walkdose import dayrules, firmware, recording, replay, simulate
from walkdose.errors import UserError
from walkdose.firmware.store import movement_code
from walkdose.sim.wearer import STILL, Counts, Wearer, day_segments


def test_a_day_is_night_fidgeting_and_the_clips_in_order():
    # 12.5 Hz: 45,000 samples an hour; a 100-sample clip twice at 08:00.
    hour = 45000
    segments = day_segments(12500, [(8 * 3600, 0, 2)], [100], 7 * 3600, 23 * 3600)
    assert segments == [(0, 7 * hour, -1), (7 * hour, 8 * hour, -2), (8 * hour, 8 * hour + 200, 0),
                        (8 * hour + 200, 23 * hour, -2), (23 * hour, 24 * hour, -1)]


def test_clips_may_neither_overlap_nor_run_past_midnight():
    with pytest.raises(ValueError, match="starts before"):
        day_segments(12500, [(8 * 3600, 0, 1), (8 * 3600 + 1, 0, 1)], [100], 7 * 3600, 23 * 3600)
    with pytest.raises(ValueError, match="past midnight"):
        day_segments(12500, [(86399, 0, 1)], [100], 7 * 3600, 23 * 3600)


def test_the_wearer_plays_a_clip_from_its_first_sample_and_loops_the_fidget():
    clip = array("h", [1, 1, 1, 2, 2, 2, 3, 3, 3])
    fidget = array("h", [7, 7, 7, 8, 8, 8])
    # 1 Hz would not be a device rate; 12.5 Hz with the clip at 07:00:00.8 = sample 7 * 45000 + 10.
    wearer = Wearer(12500, [(7 * 3600, 0, 2)], [Counts(clip)], Counts(fidget), wake_s=6 * 3600, sleep_s=23 * 3600)
    buf = array("h", bytes(6 * 8))
    wearer.fill(buf, 7 * 45000 - 2, 8)
    assert list(buf) == [7, 7, 7, 8, 8, 8] + [1, 1, 1, 2, 2, 2, 3, 3, 3] * 2
    wearer.fill(buf, 0, 2)
    assert list(buf[:6]) == list(STILL) * 2


def test_the_wearer_starts_at_the_time_of_day_the_board_is_switched_on():
    clip = array("h", [5, 5, 5])
    wearer = Wearer(12500, [(12 * 3600, 0, 1)], [Counts(clip)], Counts(array("h", [7, 7, 7])), start_s=12 * 3600)
    buf = array("h", bytes(6 * 2))
    wearer.fill(buf, 0, 2)
    assert list(buf) == [5, 5, 5, 7, 7, 7]


def test_sitting_and_fidgeting_is_worn_but_never_a_step():
    result = replay.run("cython", [simulate.fidget_clip(52000)], 52000, 4096)
    assert result["steps"] == 0
    assert len(result["minutes"]) == simulate.FIDGET_S // 60
    assert all(dayrules.worn(movement_code(m["movement"])) for m in result["minutes"])


@pytest.mark.parametrize("text, expected", [
    ("walk.csv", ("walk.csv", None, None)),
    ("walk.csv@07:30", ("walk.csv", 7 * 3600 + 30 * 60, None)),
    ("walk.csv@7:05x12", ("walk.csv", 7 * 3600 + 5 * 60, 12)),
    ("dir/x.csvx3", ("dir/x.csv", None, 3)),
])
def test_recording_specs(text, expected):
    assert simulate.parse_recording_spec(text) == expected


@pytest.mark.parametrize("text", ["walk.csv@25:00", "walk.csv@07:61"])
def test_bad_recording_specs_name_the_problem(text):
    with pytest.raises(UserError, match="--recording"):
        simulate.parse_recording_spec(text)


def test_recordings_without_a_time_take_the_default_walk_times_and_about_25_minutes():
    specs = [("a.csv", None, None), ("b.csv", 9 * 3600, 3), ("c.csv", None, None)]
    plan = simulate.day_plan(specs, [52 * 100, 52 * 100, 52 * 300], 52000)
    assert plan == [(simulate.DEFAULT_WALK_TIMES_S[0], 0, 15), (9 * 3600, 1, 3),
                    (simulate.DEFAULT_WALK_TIMES_S[1], 2, 5)]
    with pytest.raises(UserError, match="default walk times"):
        simulate.day_plan([("a.csv", None, None)] * 5, [5200] * 5, 52000)


def test_fidget_clip_is_deterministic():
    assert np.array_equal(simulate.fidget_clip(26000), simulate.fidget_clip(26000))


def test_nothing_in_the_firmware_imports_or_asks_for_the_simulator():
    """The simulated board runs firmware/ as a board would: fakes come in through the same interfaces."""

    for path in pathlib.Path(firmware.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n == "sim" or n.startswith("sim.") or ".sim" in n for n in names), path.name
            if isinstance(node, ast.Name):
                assert "sim" not in node.id.lower() and "fake" not in node.id.lower(), (path.name, node.id)


def test_the_demo_prints_one_json_report_of_a_day_walked_four_times(tmp_path):
    # --days 0: today from midnight until now, so how much was walked depends on the hour.
    env = dict(os.environ, WALKDOSE_DB=str(tmp_path / "walkdose.sqlite"))  # the demo's database goes beside it
    done = subprocess.run([sys.executable, "-m", "walkdose.cli", "demo", "--days", "0", "--json"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [d["date"] for d in report["days"]] == [report["summary"]["last_date"]]
    assert "synced 1 record(s)" in done.stderr
    hour = datetime.datetime.now().hour
    walks_done = sum(hour >= h + 1 for h in (8, 12, 18, 21))  # the four walks of about 25 minutes each
    # Each shipped clip repeats to about 25 minutes, a whole number of times: 14 x 107.5 s is 25.08 min, and a walk
    # counted whole is reported as 25.1.
    clip_s = [np.loadtxt(path, delimiter=",", skiprows=1, usecols=0)[-1] for path in simulate.shipped_recordings()]
    longest_min = max(round(25 * 60 / s) * s for s in clip_s) / 60
    assert walks_done * 20 <= report["days"][0]["walking_min"] <= (walks_done + 1) * longest_min + 0.05
    # the days stay in the demo's own database, which the last line names with the command that shows them again
    kept = done.stderr.strip().splitlines()[-1]
    assert kept.startswith("walkdose demo: the days are kept in ") and "walkdose report --db " in kept
    path = kept.split("walkdose report --db ")[1]
    assert path == str(tmp_path / "walkdose-demo.sqlite") and not (tmp_path / "walkdose.sqlite").exists()
    again = subprocess.run([sys.executable, "-m", "walkdose.cli", "report", "--db", path, "--days", "1", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["days"][-1]["walking_min"] == report["days"][0]["walking_min"]


SHIPPED = str(pathlib.Path(__file__).parent.parent / "recordings" / "Samsung_Jamie_Hard_InHand_1.csv")


def sim_command(*args):
    return [sys.executable, "-m", "walkdose.cli", "sim", "--recording", SHIPPED, "--days", "0", *args]


def test_link_refuses_an_existing_file_and_leaves_it_alone(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    done = subprocess.run(sim_command("--link", str(notes)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not a symlink" in done.stderr and done.stderr.count("\n") == 1
    assert notes.read_text() == "my notes\n"


def board_processes(folder):
    """Pids of processes whose command line names a file in `folder` (the board reads its config there)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(folder).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("hang_up", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_the_board_and_remove_its_folder_like_ctrl_c(tmp_path, hang_up):
    import signal
    sim = subprocess.Popen(sim_command("--link", str(tmp_path / "pty")), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=str(tmp_path)))
    while "board booted" not in sim.stdout.readline():
        pass
    sim.send_signal(getattr(signal, hang_up))
    out, _ = sim.communicate(timeout=60)
    assert "board stopped, flash saved" in out
    assert board_processes(tmp_path) == [] and list(tmp_path.iterdir()) == []


def test_the_boards_error_reaches_sims_output(tmp_path):
    flash = tmp_path / "flash.img"
    flash.write_bytes(b"not a flash image")
    done = subprocess.run(sim_command("--flash", str(flash)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "the board failed: ValueError" in done.stdout


def test_sim_says_when_it_is_safe_to_sync():
    line = simulate.describe({"event": "caught_up", "sim_s": 60}, datetime.datetime(2026, 12, 6))
    assert "safe to sync" in line


def test_sim_wears_the_shipped_walks_when_given_no_recording(tmp_path):
    import signal
    assert [os.path.basename(p) for p in simulate.shipped_recordings()] == sorted(
        p.name for p in (pathlib.Path(__file__).parent.parent / "recordings").glob("*.csv"))
    sim = subprocess.Popen([sys.executable, "-m", "walkdose.cli", "sim", "--days", "0", "--link", str(tmp_path / "pty")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while "board booted" not in (line := sim.stdout.readline()):
        assert line, sim.stderr.read()
    sim.send_signal(signal.SIGTERM)
    out, _ = sim.communicate(timeout=60)
    assert "board stopped, flash saved" in out


PLAY_ON_THE_BOARD = """
import gc, sys
from array import array
from sim.wearer import CountsFile, Wearer
clip, fidget, out, first, count = sys.argv[1:]
first, count = int(first), int(count)
wearer = Wearer(52000, [(first // 52, 0, 1)], [CountsFile(clip)], CountsFile(fidget))
buf = array("h", bytes(6 * 1024))
gc.collect()
free_before = gc.mem_free()
with open(out, "wb") as played:
    done = 0
    while done < count:
        n = min(count - done, 1024)
        wearer.fill(buf, first + done, n)
        played.write(memoryview(buf)[:3 * n])
        done += n
gc.collect()
print(free_before, gc.mem_free())
"""


def test_a_three_hour_clip_plays_from_its_file_in_a_heap_a_tenth_its_size(tmp_path, micropython):
    """MicroPython's wearer reads the clip as it plays: 3 h at 52 Hz (3.4 MB of counts) in a 256 KB heap, where
    loading it whole was a MemoryError past ~40 min in the simulated board's 2 MB."""
    assert simulate.RATE_MHZ == 52000  # the script's rate
    recording_path = synthetic.long_wear_csv(tmp_path / "three_hours.csv", 3)
    clip_path, samples = simulate.write_clip(recording_path, str(tmp_path / "clip0.i16"))
    fidget_path = tmp_path / "fidget.i16"
    simulate.fidget_clip(52000).tofile(fidget_path)
    script = tmp_path / "play.py"
    script.write_text(PLAY_ON_THE_BOARD)
    played_path = tmp_path / "played.i16"
    first = 8 * 3600 * 52  # 08:00, the clip's first sample
    done = subprocess.run([micropython, "-X", "heapsize=256K", str(script), clip_path, str(fidget_path),
                           str(played_path), str(first), str(samples)], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, MICROPYPATH=replay.firmware_root()))
    assert done.returncode == 0, done.stderr
    clip = pathlib.Path(clip_path).read_bytes()
    assert samples * 6 == len(clip) > 12 * 256 * 1024
    assert played_path.read_bytes() == clip  # every sample, in order
    free_before, free_after = map(int, done.stdout.split())
    assert free_after >= free_before - 1024  # nothing of the clip stays on the heap


def test_a_clip_written_chunk_by_chunk_is_the_recording_loaded_whole(tmp_path):
    """So short clips play exactly as they did when the board loaded them whole."""
    shipped = str(pathlib.Path(__file__).parent.parent / "recordings" / "Samsung_Jamie_Hard_InHand_1.csv")
    clip_path, samples = simulate.write_clip(shipped, str(tmp_path / "clip0.i16"))
    whole = recording.load_counts(shipped, simulate.RATE_MHZ, 4096)
    assert samples == len(whole) and pathlib.Path(clip_path).read_bytes() == whole.astype("<i2").tobytes()


def test_power_cuts_before_the_first_sync_keep_each_day_on_its_own_date(tmp_path):
    # Issue #18: with a cut every 37 minutes (~78 boots without a clock before the first sync), the days used to
    # collapse into one estimated day of 29,678 steps in 55 minutes. Each boot is now chained back from the sync,
    # so the report shows the clean demo's dates, each estimated, each a little short of the clean day (a cut
    # loses the minutes since the store's last 10-minute write), never more than it.
    def demo(*extra):
        env = dict(os.environ, WALKDOSE_DB=str(tmp_path / f"db{len(extra)}" / "walkdose.sqlite"))
        done = subprocess.run([sys.executable, "-m", "walkdose.cli", "demo", "--days", "2", "--json", "--quiet",
                               *extra], capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    clean, cut = demo(), demo("--power-cut-every", "37")
    assert [d["date"] for d in cut["days"]] == [d["date"] for d in clean["days"]]
    for whole, day in zip(clean["days"][:2], cut["days"][:2]):
        assert day["estimated"] and not whole["estimated"]
        assert 0.85 * whole["walking_min"] <= day["walking_min"] <= whole["walking_min"]
        assert day["steps"] <= whole["steps"] and day["steps"] <= 240 * day["recorded_min"]
    assert cut["summary"]["estimates"][0]["uncertainty_min"] > 0
