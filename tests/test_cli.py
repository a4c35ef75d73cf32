"""The `walkdose` command as a user runs it: replay, eval and their errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, public_set
from synthetic import brushing, concat, still, walking
from test_recording import write_csv
from walkdose import cli, replay

SHIPPED = os.path.join(REPO, "recordings", "Samsung_Jamie_Hard_InHand_1.csv")


def walkdose(*args):
    return subprocess.run([sys.executable, "-m", "walkdose.cli", *args], capture_output=True, text=True, timeout=600)


def test_replay_json_has_the_documented_schema_and_the_true_count():
    out = walkdose("replay", SHIPPED, "--json", "--engine", "python")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"steps", "walking_s", "step_times", "walking", "bouts", "minutes"}
    assert abs(result["steps"] - 265) <= 8  # foot-switch truth
    assert len(result["step_times"]) == result["steps"]
    assert set(result["bouts"][0]) == {"start_s", "end_s", "steps", "cadence_spm"}
    assert set(result["minutes"][0]) == {"t_s", "walk_s", "steps", "pace", "movement"}
    assert sum(m["steps"] for m in result["minutes"]) == result["steps"]
    assert 120 <= result["walking_s"] <= 146  # a 145 s recording, walking from start to end


def test_replay_summary_and_minutes_are_readable():
    out = walkdose("replay", SHIPPED, "--minutes", "--engine", "python")
    assert out.returncode == 0
    assert "steps" in out.stdout and "walk_s" in out.stdout and "moderate" in out.stdout  # ~108 steps/min


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("t,x,y\n0,1,2\n", "header"),
    ("t,x,y,z\n0,0,0,1\n0.02,nan,0,1\n", "line 3: NaN"),
    ("t,x,y,z\n0,0,0,1\n0.02,0,0,1\n0.01,0,0,1\n", "line 4: time goes backwards"),
    ("t,x,y,z\n0,0,0,1\n0.2,0,0,1\n0.4,0,0,1\n", "below the 10 Hz minimum"),
    ("t,x,y,z\n0,0,0,1\n0.02,zero,0,1\n", "not four numbers"),
    ("t,x,y,z\n0,0,0,1\n\n\n0.02,nan,0,1\n", "line 5: NaN"),  # blank lines still count
])
def test_bad_input_gives_one_line_naming_file_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = walkdose("replay", str(path), "--engine", "python")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0]


@pytest.mark.parametrize("content, message", [
    ("t,x,y,z\n0,0,0,1\n".encode("utf-16"), "line 1: not UTF-8 text"),
    (b"t,x,y,z\n0,0,0,1\n0.02,0,\xff,1\n", "line 3: not UTF-8 text"),
    (bytes(range(256)) * 4, "line 1: header"),
    (b"t,x,y,z\n0,0,0,1\n0.02,0,0\n", "line 3: 3 values, expected 4"),
    (b"t,x,y,z\n0,0,0,1\n0.02,0,0,1\n0.04,0,0,1,5\n", "line 4: 5 values, expected 4"),
])
def test_undecodable_ragged_or_gapped_files_are_one_line_naming_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = walkdose("replay", str(path), "--engine", "python")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and str(path) in lines[0] and message in lines[0], out.stderr
    assert "usecols" not in out.stderr


def test_a_utf8_bom_is_read_like_plain_csv(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + open(SHIPPED, "rb").read())
    with_bom = walkdose("replay", str(path), "--json", "--engine", "python")
    assert with_bom.returncode == 0, with_bom.stderr
    assert json.loads(with_bom.stdout) == json.loads(walkdose("replay", SHIPPED, "--json", "--engine", "python").stdout)


def test_missing_file_and_bad_rate_are_errors(tmp_path):
    assert walkdose("replay", str(tmp_path / "nope.csv"), "--engine", "python").returncode == 2
    out = walkdose("replay", SHIPPED, "--rate", "33", "--engine", "python")
    assert out.returncode == 2 and "not a device rate" in out.stderr


def test_replay_folder_writes_one_json_line_per_recording_and_survives_a_bad_file(tmp_path):
    (tmp_path / "bad.csv").write_text("t,x\n")
    (tmp_path / "utf16.csv").write_text("t,x,y,z\n0,0,0,1\n", encoding="utf-16")
    (tmp_path / "good.csv").write_text(open(SHIPPED).read())
    out_file = tmp_path / "out.jsonl"
    out = walkdose("replay", str(tmp_path), "--jobs", "2", "--out", str(out_file), "--engine", "python")
    assert out.returncode == 1 and "bad.csv" in out.stderr and "utf16.csv: line 1: not UTF-8" in out.stderr
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [os.path.basename(r["file"]) for r in lines] == ["good.csv"]


def test_eval_table_on_shipped_recordings():
    out = walkdose("eval", os.path.join(REPO, "recordings"), "--json", "--engine", "python")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert len(report["files"]) == 2
    errors = {os.path.basename(r["file"]): r["step_error_pct"] for r in report["files"]}
    # Measured 2026-11-23: in hand -2.3 %, back pocket +6.1 % (its foot-switch count is 198).
    assert abs(errors["Samsung_Jamie_Hard_InHand_1.csv"]) <= 3
    assert abs(errors["Samsung_Dario_Hard_BackPocket_1.csv"]) <= 10
    total = report["table"][-1]
    assert total["dataset"] == "all" and total["files"] == 2 and total["f1"] > 0.9


def test_eval_over_phases_reports_the_mean_of_each_phase_table():
    # Two phases: every recording is replayed with the device's samples at 0 and half a sample period; the
    # phase-0 rows are the plain eval's, and each summary entry is the mean of the two phases' entries.
    folder = os.path.join(REPO, "recordings")
    plain = json.loads(walkdose("eval", folder, "--json").stdout)
    out = walkdose("eval", folder, "--json", "--phases", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert sorted((os.path.basename(r["file"]), r["phase"]) for r in report["files"]) == [
        ("Samsung_Dario_Hard_BackPocket_1.csv", 0.0), ("Samsung_Dario_Hard_BackPocket_1.csv", 0.5),
        ("Samsung_Jamie_Hard_InHand_1.csv", 0.0), ("Samsung_Jamie_Hard_InHand_1.csv", 0.5)]
    assert [{k: v for k, v in r.items() if k != "phase"} for r in report["files"] if r["phase"] == 0.0] == plain["files"]
    by_phase = [[r for r in report["files"] if r["phase"] == p] for p in (0.0, 0.5)]
    mapes = [sum(abs(r["step_error_pct"]) for r in rows) / len(rows) for rows in by_phase]
    f1s = [sum(r["f1"] for r in rows) / len(rows) for rows in by_phase]
    total = report["table"][-1]
    assert total["files"] == 2
    assert total["step_mape_pct"] == pytest.approx(sum(mapes) / 2)
    assert total["f1"] == pytest.approx(sum(f1s) / 2) and min(f1s) > 0.9


@pytest.mark.parametrize("phase", (0.25, 0.5, 0.75))
def test_a_phase_moves_no_step_off_the_recording_clock(tmp_path, phase):
    # A clean 100 steps/min walk: whichever phase the device samples at, each step is reported within half a
    # sample period (10 ms at 50 Hz) of where phase 0 puts it. Times counted from the device's first sample
    # instead would be p * 20 ms early: 15 ms at phase 0.75.
    g = concat(still(2, 200), walking(60, 200, 100, noise_g=0.0), still(2, 200))
    path = write_csv(tmp_path / "walk.csv", np.arange(len(g)) / 200, g)
    at_zero = np.array(replay.run_file(path, 50000, "cython")["step_times"])
    shifted = np.array(replay.run_file(path, 50000, "cython", phase)["step_times"])
    assert len(at_zero) == len(shifted) == 100
    assert np.abs(shifted - at_zero).max() <= 0.010 + 1e-9


def test_eval_over_phases_names_a_bad_file_once_and_scores_the_rest(tmp_path):
    (tmp_path / "bad.csv").write_text("t,x,y,z\n0,0,0,nan\n0.02,0,0,1\n")
    (tmp_path / "bad.truth.json").write_text('{"duration_s": 0.02, "steps": 0}')
    (tmp_path / "good.csv").write_text(open(SHIPPED).read())
    (tmp_path / "good.truth.json").write_text(open(SHIPPED[:-4] + ".truth.json").read())
    out = walkdose("eval", str(tmp_path), "--json", "--phases", "2")
    assert out.returncode == 1
    assert out.stderr.count("bad.csv") == 1 and "NaN" in out.stderr
    assert sorted(r["phase"] for r in json.loads(out.stdout)["files"]) == [0.0, 0.5]


def test_eval_names_each_bad_truth_file_skips_it_and_scores_the_rest(tmp_path):
    bad_truths = {"negative": '{"duration_s": -145, "steps": 0}', "garbage": "{not json", "list": "[1, 2]",
                  "utf16": '{"duration_s": 145}'.encode("utf-16"), "nan": '{"duration_s": NaN}',
                  "steps": '{"duration_s": 145, "steps": "many"}', "walking": '{"duration_s": 145, "walking": [[5, 1]]}'}
    for name, text in bad_truths.items():
        (tmp_path / f"{name}.csv").write_text(open(SHIPPED).read())
        (tmp_path / f"{name}.truth.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "good.csv").write_text(open(SHIPPED).read())
    (tmp_path / "good.truth.json").write_text(open(SHIPPED[:-4] + ".truth.json").read())
    out = walkdose("eval", str(tmp_path), "--json", "--engine", "python")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    for name in bad_truths:
        assert out.stderr.count(f"{name}.truth.json") == 1
    assert [os.path.basename(r["file"]) for r in json.loads(out.stdout)["files"]] == ["good.csv"]


def test_eval_magnitude_only_replays_a_recording_as_its_magnitude(tmp_path):
    # Toothbrushing at a walk's cadence: the wrist's rolling keeps it out, and without that sideways motion the
    # rhythm in |a| alone passes for a walk. A recording already holding |a| alone replays as it was.
    brush = concat(still(5, 50), brushing(60, 50, 110), still(5, 50))
    t = np.arange(len(brush)) / 50
    magnitude = np.zeros_like(brush)
    magnitude[:, 0] = np.sqrt((brush * brush).sum(axis=1))
    for name, signal in (("brush", brush), ("magnitude", magnitude)):
        write_csv(tmp_path / f"{name}.csv", t, signal)
        (tmp_path / f"{name}.truth.json").write_text(json.dumps({"duration_s": t[-1], "steps": 0}))
    plain, alone = ({os.path.basename(r["file"]): r
                     for r in json.loads(walkdose("eval", str(tmp_path), "--json", *flag).stdout)["files"]}
                    for flag in ((), ("--magnitude-only",)))
    assert plain["brush.csv"]["found_steps"] == 0
    assert alone["brush.csv"]["found_steps"] >= 50
    assert alone["magnitude.csv"] == plain["magnitude.csv"]


def test_eval_refuses_zero_phases():
    out = walkdose("eval", os.path.join(REPO, "recordings"), "--phases", "0")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--phases 0" in out.stderr


def test_eval_on_truong_lowerback_meets_the_targets():
    folder = public_set("truong-lowerback")
    out = walkdose("eval", folder, "--json", "--engine", "python", "--jobs", "2")
    total = json.loads(out.stdout)["table"][-1]
    assert total["step_mape_pct"] <= 5.0 and total["walk_time_mape_pct"] <= 8.0


def test_eval_on_espruino_wrist_and_oxford_phone_meet_the_targets():
    # The wrist walks' step MAPE (<= 8 %) and wrong steps per hour on its still and mixed recordings (<= 20), and
    # the phone walks' step MAPE (<= 3 %), at the default 50 Hz.
    wrist = json.loads(walkdose("eval", public_set("espruino-wrist"), "--json", "--jobs", "2").stdout)["table"][-1]
    assert wrist["step_mape_pct"] <= 8.0 and wrist["wrong_steps_per_hour"] <= 20.0
    phone = json.loads(walkdose("eval", public_set("oxford-phone"), "--json", "--jobs", "2").stdout)["table"][-1]
    assert phone["step_mape_pct"] <= 3.0


@pytest.mark.parametrize("rate", ("12.5", "25"))
def test_eval_on_oxford_phone_meets_its_target_below_50_hz_too(rate):
    # Phones' sideways motion grows against their trough depth as the rate falls; with the brushing clause's
    # limit fixed at 50 Hz's 8/8, back-pocket walks broke at 12.5 Hz (oxford 3.7 %, its back pocket 16.8 %).
    report = json.loads(walkdose("eval", public_set("oxford-phone"), "--json", "--rate", rate, "--jobs", "2").stdout)
    assert report["table"][-1]["step_mape_pct"] <= 3.0


def test_eval_on_hmp_wrist_keeps_arm_work_and_bed_transitions_out_and_walks_in():
    # Truth: no walking in brushing, combing, eating, pouring, telephone, bed and chair trials: the target is 1 % of
    # their time. At 50 Hz they were 3.4 % walking before the wide arm-work check and the posture wait, 1.2 % with
    # them, 0.75 % with the brushing clause and the trial of short turning walks (docs/detector.md, "Accuracy"). The Walk
    # trials (no truth per step; short trials that start and end standing) must still count most of their time.
    folder = public_set("hmp-wrist")
    out = walkdose("eval", folder, "--json", "--jobs", "2")
    report = json.loads(out.stdout)
    assert report["table"][-1]["non_walking_time_pct"] <= 1.0
    walks = [r for r in report["files"] if os.path.basename(r["file"]).startswith("Walk_")]
    assert sum(r["found_walking_s"] for r in walks) >= 0.8 * sum(r["duration_s"] for r in walks)


def test_progress_shows_only_on_a_terminal_and_never_when_quiet(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert not replay.progress([], 0).disable and replay.progress([], 0, quiet=True).disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert replay.progress([], 0).disable


def test_every_option_of_every_command_says_its_default():
    import argparse
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            if action.help and action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in action.help, (name, action.option_strings)


def test_version_names_the_installed_distribution():
    import importlib.metadata
    out = walkdose("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"walkdose {importlib.metadata.version('walkdose')}"


@pytest.mark.parametrize("args, message", [
    (("report", "--plot", "/nonexistent/x.png"), "--plot /nonexistent/x.png: no folder /nonexistent"),
    (("report", "--plot", "days.txt"), "--plot days.txt: give a file name ending in .png"),
    (("replay", "--out", "/nonexistent/x.jsonl", "recordings"), "--out /nonexistent/x.jsonl: no folder /nonexistent"),
    (("bench", "--days", "0"), "--days 0: give 1 or more"),
])
def test_an_output_path_or_range_error_is_one_line_before_any_work(args, message):
    out = walkdose(*args)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr


def test_bench_cwa_that_is_not_a_cwa_is_one_line_before_any_stage(tmp_path):
    csv = tmp_path / "walk.cwa"
    csv.write_text("t,x,y,z\n0,0,0,1\n")
    for source, message in ((csv, f"{csv}: not an AX3/AX6 .cwa"), (tmp_path / "none.cwa", "cannot open")):
        out = walkdose("bench", "--quick", "--quiet", "--cwa", str(source))
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr and not out.stdout


def test_one_stretch_is_singular():
    result = {"steps": 3, "walking_s": 4.0, "walking": [[0.0, 4.0]], "bouts": []}
    from walkdose import replay_command
    assert "(4.0 s in 1 stretch)" in replay_command.format_summary("x.csv", result)


def test_bench_prints_labels_with_units_not_raw_keys(monkeypatch, capsys):
    from walkdose import bench
    keys = ("days", "rate_mhz", "samples", "steps", "walking_s", "cython_s", "cython_samples_per_s", "numpy_pass_s",
            "numpy_pass_ratio", "micropython_bytes_per_sample", "micropython_instr_per_sample",
            "micropython_callgrind_samples", "cortex_m4_instr_per_sample", "cortex_m4_instr_reason",
            "cwa_samples", "cwa_days_s", "cwa_days_cpu_s", "cwa_days_samples_per_s", "cwa_days_peak_mb",
            "actfast_read_s", "actfast_read_cpu_s", "actfast_peak_mb", "cwa_days_over_actfast_read")
    monkeypatch.setattr(bench, "bench", lambda **kw: {key: 50000 if key == "rate_mhz" else 1 for key in keys})
    assert cli.main(["bench", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sample rate" in out and "50 Hz" in out
    assert not any(key in out for key in keys if "_" in key)  # no raw key such as rate_mhz


def test_eval_names_the_worst_dataset_of_each_metric():
    from walkdose import evaluate

    def walk(dataset, placement, error_pct, walk_error_pct=None):
        row = {"dataset": dataset, "placement": placement, "duration_s": 60.0, "found_steps": 100,
               "found_walking_s": 50.0, "true_steps": 100, "step_error_pct": error_pct}
        return {**row, "walk_error_pct": walk_error_pct} if walk_error_pct is not None else row
    rows = [walk("phones", "phone:inhand", 1.0), walk("phones", "phone:purse", -9.0),  # dataset mean 5 %, bias -4
            walk("wrists", "wrist", 3.0, 2.0), walk("backs", "lower_back", -6.0, 4.0)]
    found = evaluate.worst(evaluate.table(rows))
    assert found["step_mape_pct"] == (6.0, "backs") and found["step_bias_pct"] == (-6.0, "backs")
    assert found["walk_time_mape_pct"] == (4.0, "backs") and "wrong_steps_per_hour" not in found
    line = evaluate.format_worst(evaluate.table(rows))
    assert line.startswith("worst: step MAPE % 6.0 (backs), bias % -6.0 (backs), walk-time err % 4.0 (backs)")
    out = walkdose("eval", os.path.join(REPO, "recordings"))
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1].startswith("worst: step MAPE % ")


def test_a_gap_of_hours_in_a_csv_is_a_gap_not_invented_samples(tmp_path):
    # Two walks 3 h apart in one CSV: replayed as two stretches, each as it replays alone, the second on the
    # file's clock; nothing is interpolated over the 3 h (that would be 540,000 samples at 50 Hz).
    first, second = walking(30, 50, 110, seed=1), walking(30, 50, 110, seed=2)
    t = np.arange(60 * 50) / 50.0
    t[30 * 50:] += 3 * 3600
    gapped = write_csv(tmp_path / "gapped.csv", t, np.vstack((first, second)))
    alone = [json.loads(walkdose("replay", str(write_csv(tmp_path / f"{i}.csv", t[:30 * 50], part)), "--json").stdout)
             for i, part in enumerate((first, second))]
    out = walkdose("replay", str(gapped), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["steps"] == alone[0]["steps"] + alone[1]["steps"] > 80
    assert result["step_times"] == alone[0]["step_times"] + [round(s + 3 * 3600 + 30, 3) for s in alone[1]["step_times"]]
    assert result["walking_s"] == round(alone[0]["walking_s"] + alone[1]["walking_s"], 3)
