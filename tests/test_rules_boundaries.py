"""Every constant that is a rule rather than a tuning knob, checked at its value, one below and one
above, through the functions that apply it: HUNT's bands and valid-day hours (Haddadj et al., JAMA Netw
Open 2025), the MET weights of the paces, the pace cadences (docs/db-schema.md), the worn threshold
(docs/store-format.md: octave >= 4, i.e. >= 8 mg), and the limits of the command line's options."""
import datetime
import json
import sqlite3

import pytest

from test_db import OSLO, Board, epoch
from walkdose import cli, dayrules, db, plan, recording
from walkdose.firmware import detector, store


def day_of(worn_min=0, walking=()):
    """A dayrules.Day fed minute by minute: `walking` as [(walk_s, pace)], then idle worn minutes
    (30 mg) up to worn_min."""
    day = dayrules.Day()
    for walk_s, pace in walking:
        day.add_minute(walk_s, 100, pace, store.movement_code(200))
    for _ in range(worn_min - len(walking)):
        day.add_minute(0, 0, detector.PACE_NONE, store.movement_code(30))
    return day


@pytest.mark.parametrize("worn_min, valid", [(599, False), (600, True), (601, True)])
def test_a_day_is_valid_from_10_hours_worn(worn_min, valid):
    assert day_of(worn_min).numbers()["valid"] is valid
    day = dayrules.Day()
    day.add_summary(0, 0, 0, 0, 0, worn_min, 1440)  # a record whose minutes the device dropped
    assert day.numbers()["valid"] is valid


@pytest.mark.parametrize("mean_walking_min, band, risk_ratio", [
    (0, "< 78", 1.0), (77, "< 78", 1.0), (77.9, "< 78", 1.0),
    (78, "78-100", 0.87), (79, "78-100", 0.87), (100, "78-100", 0.87),
    (101, "101-124", 0.77), (102, "101-124", 0.77), (124, "101-124", 0.77),
    (125, ">= 125", 0.76), (126, ">= 125", 0.76), (600, ">= 125", 0.76)])
def test_hunt_bands_at_their_edges(mean_walking_min, band, risk_ratio):
    """The paper's bands of mean daily walking, < 78, 78-100, 101-124 and >= 125 min/day, and their
    risk ratios of chronic low back pain against the lowest."""
    assert dayrules.hunt_band(mean_walking_min)["range"] == band
    assert dayrules.hunt_band(mean_walking_min)["risk_ratio"] == risk_ratio


def test_the_bands_the_report_draws_are_the_bands_it_names():
    """The plot shades each band from its low to its high edge: every minute a day can have lies in
    exactly one shaded band, the one hunt_band() names."""
    for minutes in range(0, 24 * 60 + 1):
        drawn = [label for low, high, label, _ in dayrules.HUNT_BANDS
                 if low <= minutes and (high is None or minutes < high)]
        assert drawn == [dayrules.hunt_band(minutes)["range"]], minutes


@pytest.mark.parametrize("pace, met", [(detector.PACE_NONE, 2.8), (detector.PACE_SLOW, 2.8),
                                       (detector.PACE_MODERATE, 3.8), (detector.PACE_BRISK, 4.8)])
def test_a_day_of_one_pace_has_that_paces_met(pace, met):
    """HUNT's MET values: slow 2.8, moderate 3.8, brisk 4.8; walking without a pace class (its steps
    fell in the neighbouring minute) counts as slow."""
    assert day_of(700, [(60, pace)] * 30).numbers()["met_index"] == met


def test_the_met_index_weighs_paces_by_walking_seconds():
    # 40 s slow, 20 s of no pace, 60 s brisk: (60 * 2.8 + 60 * 4.8) / 120
    day = day_of(700, [(40, detector.PACE_SLOW), (20, detector.PACE_NONE), (60, detector.PACE_BRISK)])
    assert day.numbers()["met_index"] == 3.8
    assert day_of(700).numbers()["met_index"] is None  # no walking, no MET


@pytest.mark.parametrize("steps, pace", [(99, detector.PACE_SLOW), (100, detector.PACE_MODERATE),
                                         (101, detector.PACE_MODERATE), (119, detector.PACE_MODERATE),
                                         (120, detector.PACE_BRISK), (121, detector.PACE_BRISK)])
def test_pace_classes_change_at_100_and_120_steps_a_minute(steps, pace):
    spm = 50 * 60  # samples a minute at 50 Hz: a minute walked throughout
    assert detector.pace_of(steps, spm, spm) == pace


@pytest.mark.parametrize("movement_mg, worn", [(7, False), (8, True), (9, True)])
def test_a_minute_is_worn_from_8_mg(movement_mg, worn):
    code = store.movement_code(movement_mg)
    assert dayrules.worn(code) is worn
    day = dayrules.Day()
    day.add_minute(0, 0, detector.PACE_NONE, code)
    assert day.numbers()["worn_min"] == int(worn)


@pytest.mark.parametrize("walk_s, steps, reason", [
    (59, 0, None), (60, 0, None), (61, 0, "61 s of walking in one minute (at most 60)"),
    (0, 239, None), (0, 240, None), (0, 241, "241 steps in one minute (at most 240, 4 steps/s)")])
def test_a_minute_holds_at_most_60_walking_seconds_and_240_steps(walk_s, steps, reason):
    """docs/db-schema.md: a minute never holds more than 60 s of walking or 240 steps (4 steps/s)."""
    assert dayrules.impossible_minute(walk_s, steps) == reason


@pytest.mark.parametrize("movement_mg, lower_edge_mg", [(0, 0), (1, 1), (7, 7), (8, 8), (9, 9), (15, 15), (16, 16),
                                                        (17, 16), (100, 96), (1000, 960), (4095, 3840)])
def test_a_movement_code_stands_for_the_lower_edge_of_its_eighth_of_an_octave(movement_mg, lower_edge_mg):
    """docs/store-format.md: eight codes per octave, so 100 mg (octave 64-127 mg, eighths of 8 mg) is 96-103 mg."""
    assert dayrules.movement_mg(store.movement_code(movement_mg)) == lower_edge_mg


def test_every_movement_lies_in_the_bin_its_code_names():
    for movement_mg in range(1, 1 << 14):
        bin_mg = max(1, (1 << (movement_mg.bit_length() - 1)) >> 3)  # an eighth of its octave, 1 mg below 16
        lower_edge_mg = dayrules.movement_mg(store.movement_code(movement_mg))
        assert lower_edge_mg <= movement_mg < lower_edge_mg + bin_mg, movement_mg


def test_a_day_adds_a_summary_to_its_minutes():
    """A day with 30 moderate walking minutes of its own and a record whose minutes the device dropped:
    35 min of walking (10 slow, 5 moderate, 20 brisk), 3300 steps, 520 of 500 minutes worn."""
    day = day_of(100, [(60, detector.PACE_MODERATE)] * 30)
    day.add_summary(2100, 3300, 10, 5, 20, 520, 500)
    # the summary's 2100 s split by pace minutes: 600 s slow, 300 s moderate, 1200 s brisk
    met = round((600 * 2.8 + (1800 + 300) * 3.8 + 1200 * 4.8) / 3900, 2)
    assert day.numbers() == {"walking_min": 65.0, "steps": 30 * 100 + 3300,
                             "pace_min": {"slow": 10, "moderate": 35, "brisk": 20}, "met_index": met,
                             "bouts": 0, "longest_bout_s": 0, "worn_min": 620, "recorded_min": 600,
                             "valid": True, "estimated": False}


def test_a_summary_of_one_walking_minute_puts_all_its_walking_in_that_pace():
    day = dayrules.Day()
    day.add_summary(60, 100, 0, 0, 1, 700, 700)
    assert day.numbers()["met_index"] == 4.8
    day = dayrules.Day()
    day.add_summary(100, 150, 1, 0, 2, 700, 700)  # 33 s slow, 66 s brisk: whole seconds, as minutes hold
    assert day.numbers()["met_index"] == round((33 * 2.8 + 66 * 4.8) / 100, 2)


def test_walking_minutes_are_shown_to_a_tenth():
    assert day_of(700, [(50, detector.PACE_SLOW)] * 2).numbers()["walking_min"] == 1.7  # 100 s
    days = [{"walking_min": 100, "valid": True}, {"walking_min": 100, "valid": True},
            {"walking_min": 101, "valid": True}, {"walking_min": 300, "valid": False}]
    assert dayrules.mean_of_valid(days)["mean_walking_min"] == 100.3


def test_a_day_without_minutes_has_every_field_of_a_day_with_them_and_no_numbers():
    recorded = day_of(700).numbers()
    assert dayrules.Day().numbers() == {**{field: None for field in recorded}, "recorded_min": 0, "valid": False,
                                        "estimated": False}


def run_cli(capsys, *args):
    """`walkdose ARGS` in this process: (exit status, stdout, stderr)."""
    status = cli.main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("option, low", [("--goal", 1), ("--step", 0)])  # a step of 0 keeps the target flat
@pytest.mark.parametrize("above_low, accepted", [(-1, False), (0, True), (1, True)])
def test_plan_takes_goal_from_1_and_step_from_0_minutes(tmp_path, capsys, option, low, above_low, accepted):
    check_plan_value(tmp_path, capsys, option, low, low + above_low, accepted)


@pytest.mark.parametrize("option, low", [("--goal", 1), ("--step", 0)])
@pytest.mark.parametrize("minutes, accepted", [(599, True), (600, True), (601, False)])
def test_plan_takes_goal_and_step_up_to_600_minutes(tmp_path, capsys, option, low, minutes, accepted):
    check_plan_value(tmp_path, capsys, option, low, minutes, accepted)


def check_plan_value(tmp_path, capsys, option, low, minutes, accepted):
    path = str(tmp_path / "w.sqlite")
    status, _, err = run_cli(capsys, "plan", "--db", path, option, str(minutes))
    assert status == (0 if accepted else 2)
    if accepted:
        saved = sqlite3.connect(path).execute("SELECT goal_min, step_min FROM plan").fetchone()
        assert saved[0 if option == "--goal" else 1] == minutes
    else:
        assert f"{option} {minutes}: give minutes per day between {low} and 600" in err


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("days, accepted", [(-1, False), (0, False), (1, True), (2, True)])
def test_days_counts_from_1(tmp_path, capsys, command, days, accepted):
    form = ["--json"] if command == "export" else []
    db.open_db(str(tmp_path / "w.sqlite")).close()
    status, out, err = run_cli(capsys, command, "--db", str(tmp_path / "w.sqlite"), "--days", str(days), *form)
    assert status == (0 if accepted else 2)
    if not accepted:
        assert f"--days {days}: give 1 or more" in err
    elif command == "export":
        assert json.loads(out)["days"] == []  # an empty database: no made-up day, whatever the span


@pytest.fixture
def ramp(tmp_path):
    """A plan from Monday 5 Jan 2026 with a baseline week of 5 valid days of 70 walking minutes: the
    target then rises by 10 a week to the goal of 100, reached in week 3."""
    conn = db.open_db(str(tmp_path / "w.sqlite"))
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 0))
    board.set_clock()
    for _ in range(5):
        board.day([(70, 60, 110, 2)], worn_min=700)
    board.sync(conn)
    yield conn
    conn.close()


def test_a_date_past_the_plans_last_week_gets_the_goal(ramp):
    today = datetime.date(2026, 1, 9)
    weeks = plan.weeks(ramp, OSLO, today)
    assert [w["target_min"] for w in weeks] == [None, 80, 90, 100]
    target_on = plan.targets(ramp, OSLO, today)
    assert target_on(datetime.date(2026, 1, 4)) == (plan.DEFAULT_GOAL_MIN, None)  # before week 0
    assert target_on(datetime.date(2026, 1, 5)) == (plan.DEFAULT_GOAL_MIN, None)  # the baseline week
    assert target_on(datetime.date(2026, 1, 12)) == (80, 1)
    assert target_on(datetime.date(2026, 2, 1)) == (100, 3)  # the Sunday ending the last week
    assert target_on(datetime.date(2026, 2, 2)) == (plan.DEFAULT_GOAL_MIN, None)


@pytest.mark.parametrize("days_since_start, weeks_shown", [(6, 1), (7, 2), (8, 2), (13, 2), (14, 3)])
def test_the_plan_shows_every_week_up_to_todays(tmp_path, days_since_start, weeks_shown):
    """No baseline yet: the plan is the weeks from its start to the one holding today."""
    conn = db.open_db(str(tmp_path / "w.sqlite"))
    db.save_plan(conn, 100, 10, "2026-01-05")
    today = datetime.date(2026, 1, 5) + datetime.timedelta(days=days_since_start)
    weeks = plan.weeks(conn, OSLO, today)
    assert len(weeks) == weeks_shown
    assert plan.format_plan(conn, OSLO, today).endswith(f"{weeks_shown - 1:4d}  {weeks[-1]['first_date']}"
                                                         "         -           0         -  <- this week")
    conn.close()


def write_recording(path, times):
    path.write_text("t,x,y,z\n" + "".join(f"{t},0,0,1\n" for t in times))
    return str(path)


@pytest.mark.parametrize("times, error", [
    ((0.0, 0.02, 0.04), None),
    ((0.0, 0.02, 0.02, 0.04), "line 4: time goes backwards or repeats"),
    ((0.0, 0.02, 0.01), "line 4: time goes backwards or repeats")])
def test_a_recording_needs_strictly_increasing_time(tmp_path, times, error):
    path = write_recording(tmp_path / "r.csv", times)
    if error is None:
        assert sum(len(rows) for rows in recording.iter_rows(path)) == len(times)
    else:
        with pytest.raises(recording.RecordingError, match=error):
            list(recording.iter_rows(path))
