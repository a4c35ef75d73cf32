"""`walkdose days`: one CSV row per calendar day of each recording and one per file with the mean over valid days
and HUNT's band, files run on local processes or a Dask cluster, written as each completes, a re-run skipping
the files already in --out. Only arguments, output and resuming; cohort.py does the work."""
import csv
import os
import sys

from . import cohort, dayrules, export, recording, replay
from .errors import UserError

COLUMNS = ("file", "date", "walking_min", "steps", "bouts", "longest_bout_s", "slow_min", "moderate_min",
           "brisk_min", "met_index", "worn_min", "recorded_min", "valid", "valid_days", "mean_walking_min",
           "hunt_band", "hunt_risk_ratio")
SUMMARY_DATE = "all"  # the date of a file's summary row: written last, it marks the file done


def configure(parser):
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR",
                        help="recordings (.cwa, .gt3x, GENEActiv .bin) or folders of them")
    replay.add_options(parser)
    parser.add_argument("--valid-hours", type=float, default=dayrules.VALID_WORN_H,
                        help=f"a day is valid when worn at least this long (default {dayrules.VALID_WORN_H} h, "
                             "as in HUNT; GGIR uses 16, stepcount 21)")
    parser.add_argument("--out", help="append rows to this CSV; files already summarised in it are skipped")
    parser.add_argument("--dask-scheduler", metavar="tcp://HOST:PORT",
                        help="run the files on this Dask cluster instead of --jobs local processes")


def run(args):
    rate_mhz = replay.device_rate_mhz(args.rate)
    if not 0 <= args.valid_hours <= 24:
        raise UserError(f"--valid-hours {args.valid_hours:g}: give 0 to 24")
    paths = recording.find_recordings(args.paths)
    if not paths:
        raise recording.RecordingError(f"{', '.join(args.paths)}: no recordings (.cwa, .gt3x, .bin) found")
    done = summarised_files(args.out) if args.out else set()
    todo = [p for p in paths if p not in done]
    options = (rate_mhz, args.engine, round(args.valid_hours * 60))
    if args.dask_scheduler:
        results = cohort.run_dask(todo, args.dask_scheduler, *options)
    else:
        results = cohort.run_local(todo, args.jobs, *options)
    out = open(args.out, "a", newline="") if args.out else sys.stdout
    failed = 0
    try:
        writer = csv.DictWriter(out, COLUMNS)
        if out is sys.stdout or out.tell() == 0:
            writer.writeheader()
        for result in replay.progress(results, len(todo), quiet=args.quiet):
            if "error" in result:
                if len(paths) == 1:
                    raise UserError(result["error"])
                failed += 1
                print(f"walkdose: {result['error']}", file=sys.stderr)
                continue
            for warning in result["warnings"]:
                print(f"walkdose: warning: {warning}", file=sys.stderr)
            writer.writerows({k: export.csv_value(v) for k, v in row.items()} for row in rows_of(result))
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"walkdose: {len(todo) - failed} of {len(paths)} recordings summarised"
          + (f", {len(paths) - len(todo)} already in {args.out}" if len(todo) < len(paths) else "")
          + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def rows_of(result):
    """The CSV rows of one file's file_days(): its days, then its summary."""
    rows = []
    for day in result["days"]:
        rows.append({"file": result["file"], "date": day["date"], "walking_min": day["walking_min"],
                     "steps": day["steps"], "bouts": day["bouts"], "longest_bout_s": day["longest_bout_s"],
                     **{f"{pace}_min": minutes for pace, minutes in day["pace_min"].items()},
                     "met_index": day["met_index"], "worn_min": day["worn_min"], "recorded_min": day["recorded_min"],
                     "valid": day["valid"]})
    summary = result["summary"]
    band = summary["band"] or {}
    rows.append({"file": result["file"], "date": SUMMARY_DATE, "valid_days": summary["valid_days"],
                 "mean_walking_min": summary["mean_walking_min"], "hunt_band": band.get("range"),
                 "hunt_risk_ratio": band.get("risk_ratio")})
    return rows


def summarised_files(out_path):
    """The files with a summary row in an earlier output: a re-run skips them."""
    if not os.path.exists(out_path):
        return set()
    with open(out_path, newline="") as handle:
        return {row["file"] for row in csv.DictReader(handle) if row.get("date") == SUMMARY_DATE}
