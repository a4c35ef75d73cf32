"""`walkdose report` on days the real firmware store recorded: per-day numbers checked by hand,
HUNT bands from the issue text, today's progress, the JSON schema and the picture."""
import datetime
import json
import os
import subprocess
import sys

import pytest

from test_db import OSLO, Board, epoch
from walkdose import dayrules, db, report
from walkdose.errors import UserError

MONDAY = datetime.date(2026, 1, 5)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Mon: 60 moderate + 30 brisk walking minutes, 650 worn. Tue: 45 walking minutes, 500 worn
    (not valid). Wed (today): 120 moderate minutes, 700 worn."""
    folder = tmp_path_factory.mktemp("three_days")  # read only: built once for the module
    conn = db.open_db(str(folder / "w.sqlite"))
    board = Board(folder / "dev", epoch(2026, 1, 5, 0))
    board.set_clock()
    board.day([(60, 60, 110, 2), (30, 60, 125, 3)], worn_min=650, bout_s=5400)
    board.day([(40, 60, 90, 1), (10, 30, 40, 1)], worn_min=500)
    board.day([(120, 60, 110, 2)], worn_min=700, bout_s=1800)
    board.sync(conn)
    yield conn
    conn.close()


def test_each_day_is_counted_as_recorded(three_days):
    days = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=2), n_days=4)["days"]
    # Sunday, before the first record, is left out rather than shown as a day of zeros.
    assert [d["date"] for d in days] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    monday, tuesday, wednesday = days
    assert monday["walking_min"] == 90 and monday["steps"] == 60 * 110 + 30 * 125
    assert monday["pace_min"] == {"slow": 0, "moderate": 60, "brisk": 30}
    assert monday["met_index"] == round((60 * 3.8 + 30 * 4.8) / 90, 2) == 4.13
    assert (monday["bouts"], monday["longest_bout_s"], monday["worn_min"], monday["valid"]) == (1, 5400, 650, True)
    assert tuesday["walking_min"] == 45 and tuesday["met_index"] == 2.8 and not tuesday["valid"]
    assert (wednesday["walking_min"], wednesday["met_index"], wednesday["valid"]) == (120, 3.8, True)


def test_the_summary_uses_complete_valid_days_only(three_days):
    # Thursday: Monday (90 min) and Wednesday (120 min) are valid and over; Tuesday was worn < 10 h.
    built = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=3), n_days=4)
    summary = built["summary"]
    assert summary["valid_days"] == 2 and summary["mean_walking_min"] == (90 + 120) / 2
    assert summary["band"]["range"] == "101-124" and summary["band"]["risk_ratio"] == 0.77
    assert "observational" in summary["band"]["source"]
    assert summary["weeks"] == [{"week": "2026-W02", "valid_days": 2, "mean_walking_min": 105.0}]
    assert summary["today"] == {"date": "2026-01-08", "walking_min": 0.0, "target_min": 100, "plan_week": None,
                                "left_min": 100}


def test_today_is_shown_but_not_in_the_mean_until_it_is_over(three_days):
    built = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=2), n_days=4)
    wednesday = built["days"][-1]
    assert wednesday["valid"] and not wednesday["complete"] and wednesday["walking_min"] == 120
    assert built["summary"]["valid_days"] == 1 and built["summary"]["mean_walking_min"] == 90
    assert built["summary"]["band"]["range"] == "78-100"
    assert "(today: not in the mean until it is over)" in report.format_text(built)


def test_a_day_without_data_is_no_data_not_zero(three_days):
    built = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=3), n_days=4)
    thursday = built["days"][-1]
    assert thursday["recorded_min"] == 0 and not thursday["valid"]
    assert all(thursday[k] is None for k in ("walking_min", "steps", "pace_min", "met_index", "worn_min"))
    assert json.loads(json.dumps(built))["days"][-1]["walking_min"] is None
    text = report.format_text(built)
    assert "2026-01-08   no data" in text and "Today 2026-01-08: no data yet (target 100 min)." in text


def test_today_shows_the_minutes_left(three_days):
    built = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=1), n_days=2)
    assert built["summary"]["today"]["left_min"] == 100 - 45
    text = report.format_text(built)
    assert "Today 2026-01-06: 45.0 of 100 min; 55.0 min left." in text
    assert "HUNT band 78-100 min/day: risk ratio 0.87" in text and "observational" in text


def test_the_text_names_the_valid_day_rule_and_the_bands_source_as_the_readme_shows(three_days):
    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    text = report.format_text(report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=3), n_days=4))
    sources = [line for line in text.splitlines() if line.startswith("Bands: ")]
    assert sources and sources[0] in readme.splitlines()
    assert "(worn >= 10 h, today not counted)." in text and "(worn >= 10 h, today not counted)." in readme


@pytest.mark.parametrize("mean, band, risk_ratio", [
    (0, "< 78", 1.0), (77.9, "< 78", 1.0), (78, "78-100", 0.87), (100, "78-100", 0.87), (100.9, "78-100", 0.87),
    (101, "101-124", 0.77), (124.9, "101-124", 0.77), (125, ">= 125", 0.76), (300, ">= 125", 0.76)])
def test_hunt_bands_are_the_papers(mean, band, risk_ratio):
    assert (dayrules.hunt_band(mean)["range"], dayrules.hunt_band(mean)["risk_ratio"]) == (band, risk_ratio)


def walkdose(*args, env):
    return subprocess.run([sys.executable, "-m", "walkdose.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_json_prints_one_object_with_the_documented_fields(recent_db, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Oslo")
    monkeypatch.setenv("WALKDOSE_DB", str(recent_db))  # no --db: the environment names the file
    out = walkdose("report", "--days", "3", "--json", env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"days", "summary"} and len(result["days"]) == 2  # from the first recorded day
    documented = {"date", "walking_min", "steps", "pace_min", "met_index", "bouts", "worn_min", "valid"}
    assert documented <= set(result["days"][0])
    assert [d["walking_min"] for d in result["days"]] == [80, 15]
    assert result["summary"]["band"]["range"] == "78-100"
    assert result["summary"]["today"]["left_min"] == 85


def test_the_plot_is_a_png_and_needs_matplotlib(three_days, tmp_path, monkeypatch):
    built = report.build(three_days, OSLO, MONDAY + datetime.timedelta(days=2), n_days=7)
    picture = tmp_path / "days.png"
    report.plot(built, str(picture))
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UserError, match=r"pip install 'walkdose\[plot\]'"):
        report.plot(built, str(picture))


def test_an_unknown_device_is_named_with_the_known_ones(recent_db):
    out = walkdose("report", "--db", str(recent_db), "--device", "nope", env=dict(os.environ))
    assert out.returncode == 2
    assert "--device nope: not in the database (devices: board-a)" in out.stderr
