"""`walkdose eval`: the detector over folders of recordings with truth files, scored per dataset and placement
(a table or JSON), optionally at several sampling phases. Only orchestration: replay.py replays, evaluate.py scores."""
import json
import sys

from . import argtypes, evaluate, recording, replay


def configure(parser):
    parser.add_argument("folders", nargs="+", help="folders holding NAME.csv + NAME.truth.json")
    replay.add_options(parser)
    parser.add_argument("--phases", type=argtypes.whole(1), default=1,
                        help="replay each recording with the device's samples at N evenly spaced phases between the "
                             "recording's own and report the mean (results move with the phase; default 1)")
    parser.add_argument("--magnitude-only", action="store_true",
                        help="replay every recording as |a| alone (x = |a|, y = z = 0), as a magnitude-only watch "
                             "records it: what the detector owes to sideways motion")
    parser.add_argument("--json", action="store_true", help="print per-file rows and the table as one JSON object")


def run(args):
    rate_mhz = replay.device_rate_mhz(args.rate)
    paths = [p for p in recording.find_recordings(args.folders) if recording.truth_path(p)]
    if not paths:
        raise recording.RecordingError(f"{', '.join(args.folders)}: no NAME.csv with NAME.truth.json found")
    phases = [i / args.phases for i in range(args.phases)]
    truths = {}
    for path in paths:
        truth, problem = read_truth(recording.truth_path(path))
        if problem:
            print(f"walkdose: {recording.truth_path(path)}: {problem}; {path} skipped", file=sys.stderr)
        else:
            truths[path] = truth
    rows = []
    failed = set()
    replays = replay.run_files(list(truths), rate_mhz, args.engine, args.jobs, phases, args.quiet, args.magnitude_only)
    for path, phase, result, error in replays:
        if error:
            if path not in failed:  # a bad file fails the same way at every phase: say so once
                print(f"walkdose: {error}", file=sys.stderr)
            failed.add(path)
            continue
        row = evaluate.score(result, truths[path])
        row["file"] = path
        if args.phases > 1:
            row["phase"] = phase
        rows.append(row)
    summary = evaluate.mean_table([[r for r in rows if r.get("phase", 0.0) == phase] for phase in phases])
    if args.json:
        print(json.dumps({"files": rows, "table": [{"dataset": d, "placement": p, **s} for d, p, s in summary],
                          "worst": {key: {"value": value, "dataset": dataset}
                                    for key, (value, dataset) in evaluate.worst(summary).items()}}))
    else:
        print(evaluate.format_table(summary))
        print(evaluate.format_worst(summary))
    return 0 if len(rows) == len(paths) * len(phases) else 1


def read_truth(path):
    """(truth, None), or (None, the problem): unreadable, not JSON or impossible values."""
    try:
        with open(path, "rb") as fh:
            truth = json.loads(fh.read().decode("utf-8-sig"))
    except OSError as exc:
        return None, f"cannot read ({exc.strerror})"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except (ValueError, RecursionError) as exc:
        return None, f"not JSON ({exc})"
    return truth, evaluate.check_truth(truth)
