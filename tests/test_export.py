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
    assert (yesterday["worn_min"], yesterday["valid"], yesterday["met_index"]) == ("700", "true", "3.8")
    assert (today["walking_min"], today["slow_min"], today["valid"]) == ("15.0", "20", "false")
    assert (yesterday["device_id"], yesterday["target_min"]) == ("all", "100")  # the plan's default goal


def test_minutes_as_json_are_every_recorded_minute_in_local_time(recent_db):
    out = walkdose("export", "--json", "--minutes", "--db", str(recent_db))
    assert out.returncode == 0, out.stderr
    exported = json.loads(out.stdout)
    assert exported["schema"] == export.SCHEMA
    minutes = exported["minutes"]
    assert len(minutes) == 1440 + 20 and set(minutes[0]) == set(export.MINUTE_COLUMNS)
    first = minutes[0]
    assert first["local_time"].endswith(("T00:00:00+01:00", "T00:00:00+02:00"))
    assert (first["walk_s"], first["steps"], first["pace"], first["worn"], first["device_id"]) == (
        60, 105, "moderate", True, "board-a")
    assert 8 <= first["movement_mg"]  # a worn minute moves at least the store's 8 mg
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
    assert out.returncode == 2 and "one of the arguments --csv --json --jsonl is required" in out.stderr


def test_json_lines_are_one_row_each_with_its_schema(recent_db):
    out = walkdose("export", "--jsonl", "--db", str(recent_db), "--days", "2")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["walking_min"] for r in rows] == [80, 15] and all(r["schema"] == export.SCHEMA for r in rows)
    assert rows[0]["valid"] is True and rows[1]["valid"] is False


def test_an_empty_database_exports_a_header_only(tmp_path):
    db.open_db(str(tmp_path / "w.sqlite")).close()
    out = walkdose("export", "--csv", "--db", str(tmp_path / "w.sqlite"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ",".join(export.DAY_COLUMNS) + "\n"


def test_a_day_without_data_exports_empty_cells_not_zeros(recent_db):
    out = walkdose("export", "--csv", "--db", str(recent_db), "--days", "2", "--device", "board-a")
    conn = db.open_db(str(recent_db))
    first = db.first_date(conn, OSLO)
    rows = export.day_rows(conn, OSLO, first - datetime.timedelta(days=1), first)
    assert out.returncode == 0 and rows[0]["walking_min"] is None and rows[0]["recorded_min"] == 0
    assert export.csv_value(rows[0]["walking_min"]) == "" and export.csv_value(rows[1]["valid"]) == "true"
