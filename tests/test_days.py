"""`walkdose days`: a recording's calendar days under the day rules the synced reports use, and batches of
files on local processes and on a real Dask cluster, resumable."""
import csv
import datetime
import shutil

import pytest

from test_db import OSLO, Board, epoch
from test_formats import real
from walkdose import cli, cohort, db, dayrules, replay

SHARED_FIELDS = ("walking_min", "steps", "pace_min", "met_index", "worn_min", "recorded_min", "valid")


def minute(t_s, walk_s=0, steps=0, pace="none", movement=30):
    return {"t_s": t_s, "walk_s": walk_s, "steps": steps, "pace": pace, "movement": movement}


def test_minutes_and_bouts_fall_on_the_calendar_day_of_the_device_clock():
    start_s = datetime.datetime(2024, 6, 1, 23, 0, tzinfo=datetime.timezone.utc).timestamp()  # 23:00 wall clock
    result = {"start_s": start_s, "bouts": [{"start_s": 600.0, "end_s": 660.0}, {"start_s": 3700.0, "end_s": 3712.4}],
              "minutes": [minute(60 * i, walk_s=60 if i < 30 else 0, steps=100 if i < 30 else 0,
                                 pace="brisk" if i < 30 else "none", movement=200 if i < 30 else 3)
                          for i in range(120)]}
    first, second = cohort.result_days(result, valid_worn_min=30)
    assert first["date"] == "2024-06-01" and second["date"] == "2024-06-02"
    assert (first["walking_min"], first["steps"], first["pace_min"]["brisk"], first["met_index"]) == (30.0, 3000, 30, 4.8)
    assert (first["worn_min"], first["recorded_min"], first["valid"]) == (30, 60, True)  # 3 mg: not worn
    assert (second["worn_min"], second["valid"]) == (0, False)
    assert (first["bouts"], first["longest_bout_s"], second["bouts"], second["longest_bout_s"]) == (1, 60, 1, 12)
    assert dayrules.mean_of_valid([first, second])["mean_walking_min"] == 30.0


def test_a_recording_and_a_synced_device_give_the_same_day_for_the_same_minutes(tmp_path):
    minutes = replay.run_file(real("small.gt3x"), 50000, "cython")["minutes"]  # real minutes, 11 h of them
    date = datetime.date(2024, 3, 5)
    start_s = datetime.datetime.combine(date, datetime.time(), datetime.timezone.utc).timestamp()
    recorded = cohort.result_days({"start_s": start_s, "bouts": [],
                                   "minutes": [{**m, "t_s": 60 * i} for i, m in enumerate(minutes)]})
    board = Board(tmp_path / "dev", epoch(date.year, date.month, date.day, 0))
    board.set_clock()
    pace_of = {name: pace for pace, name in dayrules.PACE_NAMES.items()}
    for m in minutes:
        board.minute(m["walk_s"], m["steps"], pace_of[m["pace"]], m["movement"])
    conn = db.open_db(str(tmp_path / "synced.sqlite"))
    board.sync(conn)
    synced = db.days(conn, OSLO, date, date)
    assert recorded[0]["walking_min"] > 10 and recorded[0]["worn_min"] > 100
    assert {k: recorded[0][k] for k in SHARED_FIELDS} == {k: synced[0][k] for k in SHARED_FIELDS}


@pytest.fixture
def cohort_dir(tmp_path):
    """Three readable recordings and one of an unsupported format."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    for name in ("ax3_sample.cwa", "ax6_sample.cwa", "ISM_Enabled.gt3x", "genea_testfile.bin"):
        shutil.copy(real(name), folder / name)
    return folder


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_folder_run_reports_a_bad_file_writes_the_rest_and_resumes(cohort_dir, tmp_path, capsys):
    out = tmp_path / "days.csv"
    assert cli.main(["days", str(cohort_dir), "--jobs", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "genea_testfile.bin: old Genea .bin (before GENEActiv) is not supported" in err
    first = rows(out)
    summaries = [r for r in first if r["date"] == "all"]
    assert sorted(r["file"].rsplit("/", 1)[1] for r in summaries) == ["ISM_Enabled.gt3x", "ax3_sample.cwa",
                                                                       "ax6_sample.cwa"]
    ax3 = [r for r in first if r["file"].endswith("ax3_sample.cwa")]
    assert ax3[0]["date"] == "2020-02-12" and int(ax3[0]["steps"]) > 150 and ax3[0]["valid"] == "false"
    assert cli.main(["days", str(cohort_dir), "--out", str(out)]) == 1  # only the bad file is tried again
    assert "3 already in" in capsys.readouterr().err
    assert rows(out) == first


def test_a_single_bad_file_is_one_line_and_exit_2(capsys):
    assert cli.main(["days", real("neo.gt3x")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_dask_path_writes_what_local_processes_write(cohort_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    cli.main(["days", str(cohort_dir), "--jobs", "1", "--out", str(local)])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        assert cli.main(["days", str(cohort_dir), "--dask-scheduler", cluster.scheduler_address,
                         "--out", str(remote)]) == 1
    assert sorted(rows(remote), key=lambda r: (r["file"], r["date"])) == sorted(
        rows(local), key=lambda r: (r["file"], r["date"]))
