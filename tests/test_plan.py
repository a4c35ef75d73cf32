"""`walkdose plan`: the baseline week, the weekly step up to the goal, and the target the report
shows, on weeks the real firmware store recorded."""
import datetime
import os
import shutil
import subprocess
import sys

import pytest

from test_db import OSLO, Board, epoch
from walkdose import db, plan, report

MONDAY = datetime.date(2026, 1, 5)


@pytest.fixture(scope="module")
def two_weeks_file(tmp_path_factory):
    """Week 0 (from Mon 5 Jan): 3 valid days of 30 minutes, then four unworn days - too few for a
    baseline. Week 1: five valid days of 40, 45, 50, 55, 60 walking minutes (mean 50), then two
    unworn days. Week 2: Monday, 62 minutes."""
    folder = tmp_path_factory.mktemp("two_weeks")
    conn = db.open_db(str(folder / "w.sqlite"))
    board = Board(folder / "dev", epoch(2026, 1, 5, 0))
    board.set_clock()
    for walking_min in [30, 30, 30, 0, 0, 0, 0, 40, 45, 50, 55, 60, 0, 0, 62]:
        board.day([(walking_min, 60, 110, 2)], worn_min=700 if walking_min else 0)
    board.sync(conn)
    conn.close()
    return folder / "w.sqlite"


@pytest.fixture
def two_weeks(two_weeks_file, tmp_path):
    """A copy of the two weeks' database: a test may change its plan."""
    shutil.copy(two_weeks_file, tmp_path / "w.sqlite")
    conn = db.open_db(str(tmp_path / "w.sqlite"))
    yield conn
    conn.close()


def test_the_target_rises_from_the_first_week_with_four_valid_days(two_weeks):
    weeks = plan.weeks(two_weeks, OSLO, MONDAY + datetime.timedelta(days=14))
    assert [w["first_date"] for w in weeks[:3]] == ["2026-01-05", "2026-01-12", "2026-01-19"]
    assert [(w["valid_days"], w["mean_walking_min"]) for w in weeks[:3]] == [(3, 30.0), (5, 50.0), (1, 62.0)]
    assert [w["baseline"] for w in weeks[:3]] == [False, True, False]
    # baseline 50, +10 a week from the week after it, up to the goal of 100
    assert [w["target_min"] for w in weeks] == [None, None, 60, 70, 80, 90, 100]


def test_settings_change_the_step_goal_and_start(two_weeks):
    today = MONDAY + datetime.timedelta(days=14)
    db.save_plan(two_weeks, 90, 15, None)
    assert [w["target_min"] for w in plan.weeks(two_weeks, OSLO, today)] == [None, None, 65, 80, 90]
    # weeks from Wednesday 7 Jan: week 0 has 30, 40, 45 (3 valid days); week 1 has 50, 55, 60, 62
    db.save_plan(two_weeks, 90, 15, "2026-01-07")
    weeks = plan.weeks(two_weeks, OSLO, today)
    assert weeks[1]["first_date"] == "2026-01-14" and weeks[1]["mean_walking_min"] == 56.8 and weeks[1]["baseline"]
    assert [w["target_min"] for w in weeks] == [None, None, 57 + 15, 57 + 30, 90]


def test_the_report_shows_the_plans_target_for_today(two_weeks):
    summary = report.build(two_weeks, OSLO, MONDAY + datetime.timedelta(days=14), n_days=7)["summary"]
    assert summary["today"] == {"date": "2026-01-19", "walking_min": 62, "target_min": 60, "plan_week": 2,
                                "left_min": 0}
    during_baseline = report.build(two_weeks, OSLO, MONDAY + datetime.timedelta(days=8), n_days=2)["summary"]
    assert during_baseline["today"]["target_min"] == plan.DEFAULT_GOAL_MIN
    assert during_baseline["today"]["plan_week"] is None


def walkdose(*args):
    return subprocess.run([sys.executable, "-m", "walkdose.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TZ": "Europe/Oslo"})


def test_the_command_sets_and_shows_the_plan(tmp_path):
    path = str(tmp_path / "w.sqlite")
    db.open_db(path).close()  # as a first sync leaves it
    out = walkdose("plan", "--db", path)
    assert out.returncode == 0 and "goal 100 walking min/day, +10 min/day each week" in out.stdout
    assert "No data yet" in out.stdout
    out = walkdose("plan", "--db", path, "--goal", "80", "--step", "5", "--start", "2026-11-02")
    assert out.returncode == 0, out.stderr
    assert "goal 80 walking min/day, +5 min/day each week" in out.stdout
    out = walkdose("plan", "--db", path, "--step", "7")  # only the step changes
    with db.open_db(path) as conn:
        assert db.load_plan(conn) == (80, 7, "2026-11-02")
    out = walkdose("plan", "--db", path, "--goal", "0")
    assert out.returncode == 2 and "--goal 0: give minutes per day between 1 and 600" in out.stderr
    out = walkdose("plan", "--db", path, "--start", "02.11.2026")
    assert out.returncode == 2 and "--start 02.11.2026: not a date; write it as YYYY-MM-DD" in out.stderr


def test_a_change_keeps_past_days_targets_and_says_what_changed(two_weeks):
    # Baseline week 1 (mean 50): week 2 from Mon 19 Jan has target 60. A change on Wed 21 Jan to a flat 45 applies
    # from that day on; Mon 19 and Tue 20 keep the 60 the board was cued with.
    wednesday = MONDAY + datetime.timedelta(days=16)
    before = plan.settings(two_weeks)
    db.save_plan(two_weeks, 45, 0, None, wednesday.isoformat(), (before[0], before[1], None))
    target_on = plan.targets(two_weeks, OSLO, wednesday)
    assert [target_on(MONDAY + datetime.timedelta(days=d))[0] for d in (14, 15, 16, 23)] == [60, 60, 45, 45]
    assert plan.describe_change(before, plan.settings(two_weeks), wednesday) == (
        "Plan changed: goal 100 min/day -> 45 min/day, step +10 min/day -> +0 min/day; "
        "from today (2026-01-21) on, earlier days keep their targets.")


def test_the_start_can_be_unset_and_a_flat_target_kept(tmp_path):
    path = str(tmp_path / "w.sqlite")
    out = walkdose("plan", "--db", path, "--start", "2026-11-02", "--step", "0")
    assert out.returncode == 0 and "start the first day with data -> 2026-11-02" in out.stdout
    out = walkdose("plan", "--db", path, "--start", "none")
    assert out.returncode == 0 and "start 2026-11-02 -> the first day with data" in out.stdout
    with db.open_db(path) as conn:
        assert db.load_plan(conn) == (100, 0, None)
    assert "Plan unchanged." in walkdose("plan", "--db", path, "--step", "0").stdout
