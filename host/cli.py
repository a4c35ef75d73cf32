"""The `walkdose` command line: argument parsing, progress and error reporting over the host library.
Holds no algorithm; every command is a thin call into replay, evaluate and friends."""
import argparse
import importlib
import json
import multiprocessing
import os
import sys

from . import evaluate, recording, replay
from .errors import UserError

DEFAULT_RATE_HZ = 50.0
COUNTS_PER_G = 4096  # +/-8 g on every supported IMU


def _rate_mhz(rate_hz):
    rate_mhz = int(round(rate_hz * 1000))
    if rate_mhz not in recording.DEVICE_RATES_MHZ:
        rates = ", ".join(f"{r / 1000:g}" for r in recording.DEVICE_RATES_MHZ)
        raise recording.RecordingError(f"--rate {rate_hz:g} Hz is not a device rate (choose from {rates})")
    return rate_mhz


def replay_file(path, rate_mhz, engine, phase=0.0):
    """The detector's result on a recording, times on the recording's clock; `phase` places the device's
    samples that fraction of a sample period later."""
    result = replay.run(engine, recording.iter_counts(path, rate_mhz, COUNTS_PER_G, phase), rate_mhz, COUNTS_PER_G)
    return replay.shifted(result, phase * 1000.0 / rate_mhz) if phase else result


def _replay_job(args):
    path, rate_mhz, engine, phase = args
    try:
        return path, phase, replay_file(path, rate_mhz, engine, phase), None
    except (recording.RecordingError, OSError) as exc:
        return path, phase, None, str(exc)


def _progress(done, total, label):
    if sys.stderr.isatty() or os.environ.get("WALKDOSE_PROGRESS"):
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[-40:]:40}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def map_recordings(paths, rate_mhz, engine, jobs, phases=(0.0,)):
    """Replay many recordings (each at every phase) in parallel processes; yields (path, phase, result, error)
    in order, phases innermost."""
    work = [(p, rate_mhz, engine, phase) for p in paths for phase in phases]
    if jobs <= 1 or len(work) <= 1:
        results = map(_replay_job, work)
        for i, item in enumerate(results, 1):
            _progress(i, len(work), item[0])
            yield item
        return
    with multiprocessing.Pool(jobs) as pool:
        for i, item in enumerate(pool.imap(_replay_job, work), 1):
            _progress(i, len(work), item[0])
            yield item


def format_summary(path, result):
    lines = [f"{path}",
             f"  steps          {result['steps']}",
             f"  walking        {result['walking_s'] / 60:.1f} min ({result['walking_s']:.1f} s in "
             f"{len(result['walking'])} stretches)",
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


def cmd_replay(args):
    rate_mhz = _rate_mhz(args.rate)
    if os.path.isdir(args.path):
        return _replay_folder(args, rate_mhz)
    result = replay_file(args.path, rate_mhz, args.engine)
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
        raise recording.RecordingError(f"{args.path}: no .csv recordings below this folder")
    out = open(args.out, "w") if args.out else sys.stdout
    failed = 0
    try:
        for path, _, result, error in map_recordings(paths, rate_mhz, args.engine, args.jobs):
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


def cmd_eval(args):
    rate_mhz = _rate_mhz(args.rate)
    paths = [p for p in recording.find_recordings(args.folders) if recording.truth_path(p)]
    if not paths:
        raise recording.RecordingError(f"{', '.join(args.folders)}: no NAME.csv with NAME.truth.json found")
    if args.phases < 1:
        raise recording.RecordingError(f"--phases {args.phases}: need at least one")
    phases = [i / args.phases for i in range(args.phases)]
    rows = []
    failed = set()
    for path, phase, result, error in map_recordings(paths, rate_mhz, args.engine, args.jobs, phases):
        if error:
            if path not in failed:  # a bad file fails the same way at every phase: say so once
                print(f"walkdose: {error}", file=sys.stderr)
            failed.add(path)
            continue
        with open(recording.truth_path(path)) as fh:
            truth = json.load(fh)
        row = evaluate.score(result, truth)
        row["file"] = path
        if args.phases > 1:
            row["phase"] = phase
        rows.append(row)
    summary = evaluate.mean_table([[r for r in rows if r.get("phase", 0.0) == phase] for phase in phases])
    if args.json:
        print(json.dumps({"files": rows, "table": [{"dataset": d, "placement": p, **s} for d, p, s in summary]}))
    else:
        print(evaluate.format_table(summary))
    return 0 if len(rows) == len(paths) * len(phases) else 1


def cmd_bench(args):
    from . import bench

    result = bench.bench(days=args.days, quick=args.quick)
    if args.json:
        print(json.dumps(result))
        return 0
    for key, value in result.items():
        print(f"{key:34s} {value:,.3f}" if isinstance(value, float) else f"{key:34s} {value}")
    return 0


# Commands that live in their own module: name -> (module, help). Each module has configure(parser), which
# adds the command's options, and run(args) -> exit status; bad input raises errors.UserError.
COMMAND_MODULES = {
    "demo": ("demo", "simulate a board on the shipped walks for a few days, sync it, show the report"),
    "sim": ("simulate", "a simulated board running the real firmware on a pty, wearing recordings as its days"),
    "sync": ("sync", "pull the days a board holds over USB serial into the local database and set its clock"),
    "report": ("report", "daily walking minutes against the HUNT bands and today's target; --json, --plot FILE.png"),
    "plan": ("plan", "a progressive daily walking target from your baseline week; --goal/--step/--start set it"),
    "export": ("export", "days or minutes from the database as CSV or JSON for spreadsheets and research"),
    "boards": ("boards", "the supported boards: IMU, rate, mpy-cross architecture, MicroPython firmware to install"),
    "flash": ("flash", "put the firmware on a board (mpy-cross, mpremote), set its clock, check it answers"),
}


def _add_module_commands(sub):
    for name, (module_name, help_text) in COMMAND_MODULES.items():
        module = importlib.import_module(f".{module_name}", __package__)
        parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(parser)
        parser.set_defaults(func=module.run)


def build_parser():
    parser = argparse.ArgumentParser(prog="walkdose", description="Count daily minutes of walking.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_module_commands(sub)  # the wearer's path first, then the detector's tools

    rp = sub.add_parser("replay", help="run the detector over a recording (t,x,y,z CSV) or a folder of them")
    rp.add_argument("path", help="a NAME.csv recording, or a folder: every .csv below it, one JSON line each")
    rp.add_argument("--rate", type=float, default=DEFAULT_RATE_HZ, help="device rate in Hz (default 50)")
    rp.add_argument("--engine", choices=("cython", "python", "micropython"), default="cython",
                    help="detector implementation (identical results; default %(default)s)")
    rp.add_argument("--json", action="store_true", help="print one JSON object (schema in README)")
    rp.add_argument("--minutes", action="store_true", help="also print the per-minute records")
    rp.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes for a folder")
    rp.add_argument("--out", help="for a folder: write the JSON lines to this file instead of stdout")
    rp.set_defaults(func=cmd_replay)

    ev = sub.add_parser("eval", help="accuracy against NAME.truth.json files, per dataset and placement")
    ev.add_argument("folders", nargs="+", help="folders holding NAME.csv + NAME.truth.json")
    ev.add_argument("--rate", type=float, default=DEFAULT_RATE_HZ, help="device rate in Hz (default 50)")
    ev.add_argument("--engine", choices=("cython", "python", "micropython"), default="cython")
    ev.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes")
    ev.add_argument("--phases", type=int, default=1,
                    help="replay each recording with the device's samples at N evenly spaced phases between the "
                         "recording's own and report the mean (results move with the phase; default 1)")
    ev.add_argument("--json", action="store_true", help="print per-file rows and the table as one JSON object")
    ev.set_defaults(func=cmd_eval)

    bp = sub.add_parser("bench", help="engine speed on a synthetic week, firmware cost per sample under micropython")
    bp.add_argument("--days", type=int, default=7, help="length of the synthetic recording (default 7)")
    bp.add_argument("--quick", action="store_true", help="one day: a smoke run")
    bp.add_argument("--json", action="store_true", help="print one JSON object")
    bp.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"walkdose: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("walkdose: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
