"""`walkdose export`: the database's days or minutes as CSV or JSON on stdout, for spreadsheets and
research. The same numbers the report shows; reads the database, never writes it."""
import csv
import datetime
import json
import sys
import time

from . import argtypes, dayrules, db, dboptions, localtime, plan

# Versioned so a reader can tell what it holds; bump on any change of columns or meaning (README, "Export").
SCHEMA = "walkdose.export/2"
DAY_COLUMNS = ("date", "device_id", "walking_min", "steps", "slow_min", "moderate_min", "brisk_min", "met_index",
               "bouts", "longest_bout_s", "worn_min", "recorded_min", "valid", "estimated", "target_min")
MINUTE_COLUMNS = ("utc_epoch_s", "local_time", "date", "device_id", "walk_s", "steps", "pace", "movement_mg",
                  "worn", "estimated")


def day_rows(conn, zone, first, last, device_id=None, today=None):
    """db.days() flattened to DAY_COLUMNS (pace minutes as three columns; None where a day has no data), with
    the daily target the plan set for each date."""
    target_on = plan.targets(conn, zone, today or last, device_id)
    rows = []
    for day in db.days(conn, zone, first, last, device_id):
        flat = {k: v for k, v in day.items() if k != "pace_min"}
        for pace in ("slow", "moderate", "brisk"):
            flat[f"{pace}_min"] = day["pace_min"][pace] if day["pace_min"] else None
        flat["device_id"] = device_id or "all"
        flat["target_min"] = target_on(datetime.date.fromisoformat(day["date"]))[0]
        rows.append({column: flat[column] for column in DAY_COLUMNS})
    return rows


def minute_rows(conn, zone, first, last, device_id=None):
    """One dict per recorded minute (MINUTE_COLUMNS) on the local dates first..last."""
    rows = []
    for utc_minute, device, walk_s, steps, pace, code, estimated in db.minute_rows(
            conn, device_id, localtime.midnight_s(first, zone) - 86400):
        epoch_s = utc_minute * 60
        local = localtime.local_time(epoch_s, zone)
        if first <= local.date() <= last:
            rows.append({"utc_epoch_s": epoch_s, "local_time": local.isoformat(), "date": local.date().isoformat(),
                         "device_id": device, "walk_s": walk_s, "steps": steps, "pace": dayrules.PACE_NAMES[pace],
                         "movement_mg": dayrules.movement_mg(code), "worn": dayrules.worn(code),
                         "estimated": bool(estimated)})
    return rows


def csv_value(value):
    """A CSV cell: booleans as JSON writes them, a missing number as an empty cell."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def configure(parser):
    dboptions.add_arguments(parser)
    form = parser.add_mutually_exclusive_group(required=True)
    form.add_argument("--csv", action="store_true", help="comma-separated values with a header row")
    form.add_argument("--json", action="store_true",
                      help=f'one JSON object: {{"schema": "{SCHEMA}", "days": [...]}} (or "minutes")')
    form.add_argument("--jsonl", action="store_true",
                      help="JSON Lines: one object per row, each with its schema (pandas.read_json(..., lines=True))")
    parser.add_argument("--minutes", action="store_true", help="one row per recorded minute instead of per day")
    parser.add_argument("--days", type=argtypes.whole(1), metavar="N", help="only the last N days, today included (default: all)")


def run(args):
    with db.opened(args.db, readonly=True) as conn:
        device_id = dboptions.device_of(conn, args)
        zone = localtime.local_zone()
        today = localtime.local_date(time.time(), zone)
        recorded_from = db.first_date(conn, zone, device_id)
        first = today - datetime.timedelta(days=args.days - 1) if args.days is not None else recorded_from
        rows = []
        if recorded_from is not None:  # an empty database exports no made-up day
            first = max(first, recorded_from)
            if args.minutes:
                rows = minute_rows(conn, zone, first, today, device_id)
            elif first <= today:
                rows = day_rows(conn, zone, first, today, device_id)
    name = "minutes" if args.minutes else "days"
    if args.json:
        json.dump({"schema": SCHEMA, name: rows}, sys.stdout)
        sys.stdout.write("\n")
    elif args.jsonl:
        for row in rows:
            sys.stdout.write(json.dumps({"schema": SCHEMA, **row}) + "\n")
    else:
        writer = csv.DictWriter(sys.stdout, MINUTE_COLUMNS if args.minutes else DAY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_value(v) for k, v in row.items()})
    return 0
