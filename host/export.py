"""`walkdose export`: the database's days or minutes as CSV or JSON on stdout, for spreadsheets and
research. The same numbers the report shows; reads the database, never writes it."""
import csv
import datetime
import json
import sys
import time

from . import dayrules, db, dboptions, localtime
from .errors import UserError

DAY_COLUMNS = ("date", "walking_min", "steps", "slow_min", "moderate_min", "brisk_min", "met_index", "bouts",
               "longest_bout_s", "worn_min", "recorded_min", "valid", "estimated")
MINUTE_COLUMNS = ("utc_epoch_s", "local_time", "date", "device_id", "walk_s", "steps", "pace", "movement_code",
                  "worn", "estimated")


def day_rows(conn, zone, first, last, device_id=None):
    """db.days() flattened to DAY_COLUMNS (pace minutes as three columns)."""
    rows = []
    for day in db.days(conn, zone, first, last, device_id):
        flat = {k: v for k, v in day.items() if k != "pace_min"}
        for pace, minutes in day["pace_min"].items():
            flat[f"{pace}_min"] = minutes
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
                         "movement_code": code, "worn": dayrules.worn(code),
                         "estimated": bool(estimated)})
    return rows


def configure(parser):
    dboptions.add_arguments(parser)
    form = parser.add_mutually_exclusive_group(required=True)
    form.add_argument("--csv", action="store_true", help="comma-separated values with a header row")
    form.add_argument("--json", action="store_true", help='one JSON object: {"days": [...]} or {"minutes": [...]}')
    parser.add_argument("--minutes", action="store_true", help="one row per recorded minute instead of per day")
    parser.add_argument("--days", type=int, metavar="N", help="only the last N days, today included (default: all)")


def run(args):
    if args.days is not None and args.days < 1:
        raise UserError(f"--days {args.days}: give 1 or more")
    conn = db.open_db(args.db)
    device_id = dboptions.device_of(conn, args)
    zone = localtime.local_zone()
    today = localtime.local_date(time.time(), zone)
    if args.days is not None:
        first = today - datetime.timedelta(days=args.days - 1)
    else:
        first = db.first_date(conn, zone, device_id) or today
    rows = (minute_rows if args.minutes else day_rows)(conn, zone, first, max(first, today), device_id)
    name = "minutes" if args.minutes else "days"
    if args.json:
        json.dump({name: rows}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    writer = csv.DictWriter(sys.stdout, MINUTE_COLUMNS if args.minutes else DAY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: int(v) if isinstance(v, bool) else v for k, v in row.items()})
    return 0
