"""`walkdose replay`: the detector over one recording (a summary, its minutes or JSON) or over a folder of them
(one JSON line each). Only reading arguments and printing; replay.py does the work."""
import json
import os
import sys

from . import argtypes, recording, replay


def configure(parser):
    parser.add_argument("path", help="a recording (t,x,y,z CSV, .cwa, .gt3x or GENEActiv .bin), or a folder: every one below it, "
                        "one JSON line each")
    replay.add_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object (schema in README)")
    parser.add_argument("--minutes", action="store_true", help="also print the per-minute records")
    parser.add_argument("--out", type=argtypes.output_file(), help="for a folder: write the JSON lines to this file instead of stdout")


def run(args):
    rate_mhz = replay.device_rate_mhz(args.rate)
    if os.path.isdir(args.path):
        return _replay_folder(args, rate_mhz)
    result = replay.run_file(args.path, rate_mhz, args.engine)
    if args.json:
        print(json.dumps(result))
        return 0
    print(format_summary(args.path, result))
    if args.minutes:
        print(format_minutes(result))
    return 0


def _replay_folder(args, rate_mhz):
    paths = recording.find_recordings([args.path])
    if not paths:
        raise recording.RecordingError(f"{args.path}: no recordings (.csv, .cwa, .gt3x, .bin) below this folder")
    out = open(args.out, "w") if args.out else sys.stdout
    failed = 0
    try:
        for path, _, result, error in replay.run_files(paths, rate_mhz, args.engine, args.jobs, quiet=args.quiet):
            if error:
                failed += 1
                print(f"walkdose: {error}", file=sys.stderr)
                continue
            out.write(json.dumps({"file": path, **result}) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"walkdose: replayed {len(paths) - failed} of {len(paths)} recordings"
          + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def format_summary(path, result):
    lines = [f"{path}",
             f"  steps          {result['steps']}",
             f"  walking        {result['walking_s'] / 60:.1f} min ({result['walking_s']:.1f} s in "
             f"{len(result['walking'])} stretch{'es' if len(result['walking']) != 1 else ''})",
             f"  bouts >= 10 s  {len(result['bouts'])}"]
    for bout in result["bouts"]:
        lines.append(f"    {bout['start_s']:9.1f} - {bout['end_s']:9.1f} s  {bout['steps']:5d} steps  "
                     f"{bout['cadence_spm']:3d} steps/min")
    return "\n".join(lines)


def format_minutes(result):
    lines = ["  minute  t_s      walk_s  steps  pace      movement_mg"]
    for i, m in enumerate(result["minutes"]):
        lines.append(f"  {i:6d}  {m['t_s']:7d}  {m['walk_s']:6d}  {m['steps']:5d}  {m['pace']:8s}  {m['movement']:6d}")
    return "\n".join(lines)
