"""`walkdose export`: days and minutes as CSV and JSON, with the numbers the store recorded."""
import csv
import datetime
import io
import json
import os
import subprocess
import sys

from test_db import OSLO, Board, epoch
from walkdose import db, export


def walkdose(*args):
    return subprocess.run([sys.executable, "-m", "walkdose.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TZ": "Europe/Oslo"})


def test_days_as_csv_have_a_header_and_one_row_per_day(recent_db):
    out = walkdose("export", "--csv", "--db", str(recent_db), "--days", "2")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == list(export.DAY_COLUMNS)
    yesterday, today = rows
    assert (yesterday["walking_min"], yesterday["steps"], yesterday["moderate_min"]) == ("80.0", str(80 * 105), "80")
    assert (yesterday["worn_min"], yesterday["valid"], yesterday["met_index"]) == ("700", "1", "3.8")
    assert (today["walking_min"], today["slow_min"], today["valid"]) == ("15.0", "20", "0")


def test_minutes_as_json_are_every_recorded_minute_in_local_time(recent_db):
    out = walkdose("export", "--json", "--minutes", "--db", str(recent_db))
    assert out.returncode == 0, out.stderr
    minutes = json.loads(out.stdout)["minutes"]
    assert len(minutes) == 1440 + 20 and set(minutes[0]) == set(export.MINUTE_COLUMNS)
    first = minutes[0]
    assert first["local_time"].endswith(("T00:00:00+01:00", "T00:00:00+02:00"))
    assert (first["walk_s"], first["steps"], first["pace"], first["worn"], first["device_id"]) == (
        60, 105, "moderate", True, "board-a")
    assert minutes[-1]["pace"] == "slow" and minutes[-1]["walk_s"] == 45
    assert sum(m["walk_s"] for m in minutes) == 80 * 60 + 20 * 45
    assert sum(m["worn"] for m in minutes) == 700 + 20


def test_a_dst_day_exports_its_25_hours(tmp_path):
    conn = db.open_db(str(tmp_path / "w.sqlite"))
    board = Board(tmp_path / "dev", epoch(2026, 10, 25, 0))
    board.set_clock()
    board.minutes(1500, walk_s=6, steps=10, pace=1)
    board.sync(conn)
    day = datetime.date(2026, 10, 25)
    minutes = export.minute_rows(conn, OSLO, day, day)
    assert len(minutes) == 1500
    assert [m["local_time"][11:] for m in minutes[179:181]] == ["02:59:00+02:00", "02:00:00+01:00"]
    assert export.day_rows(conn, OSLO, day, day)[0]["walking_min"] == 1500 * 6 / 60


def test_export_needs_a_format(tmp_path):
    out = walkdose("export", "--db", str(tmp_path / "w.sqlite"))
    assert out.returncode == 2 and "one of the arguments --csv --json is required" in out.stderr
