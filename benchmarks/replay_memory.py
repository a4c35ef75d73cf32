"""Peak memory of `walkdose replay` on a long recording: writes a synthetic wearer's CSV (still, and three
hour-long walks a day at WALK_SPM, from tests/synthetic.py), replays it in a child process and reports the
child's peak resident size against the raw int16 array the samples would fill, with the steps and walking
minutes found against the ones written. Prints one JSON object.

    python benchmarks/replay_memory.py [--days 7] [--rate 100] [--keep FILE]
"""
import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from synthetic import still, walking  # noqa: E402

WALK_SPM = 108
WALKING_HOURS = (9, 13, 17)  # an hour's walk starting at each; still the rest of the day


def write_csv(path, days, rate_hz):
    """The wearer's recording, an hour at a time; (samples, true steps, true walking minutes)."""
    total = int(days * 86400 * rate_hz)
    written = 0
    walking_samples = 0
    with open(path, "w") as f:
        f.write("t,x,y,z\n")
        while written < total:
            for hour in range(24):
                walks = hour in WALKING_HOURS
                g = walking(3600, rate_hz, WALK_SPM) if walks else still(3600, rate_hz)
                g = g[:total - written]
                t = (written + np.arange(len(g))) / rate_hz
                np.savetxt(f, np.column_stack([t, g]), fmt=("%.3f", "%.4f", "%.4f", "%.4f"), delimiter=",")
                written += len(g)
                walking_samples += len(g) if walks else 0
                if written == total:
                    break
    walk_min = walking_samples / rate_hz / 60
    return total, round(walk_min * WALK_SPM), round(walk_min, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--rate", type=float, default=100, help="recording and device rate in Hz (default 100)")
    parser.add_argument("--keep", help="write the CSV here and keep it (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or os.path.join(tmp, "week.csv")
        began = time.perf_counter()
        samples, true_steps, true_walk_min = write_csv(path, args.days, args.rate)
        written_s = time.perf_counter() - began
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import sys; from walkdose.cli import main; sys.exit(main())",
                               "replay", path, "--json", "--rate", "%g" % args.rate], capture_output=True, text=True)
        replay_s = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit("replay failed: " + done.stderr.strip())
        result = json.loads(done.stdout)
        peak_bytes = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux reports KiB
        raw_bytes = samples * 6
        print(json.dumps({
            "days": args.days, "rate_hz": args.rate, "samples": samples, "csv_bytes": os.path.getsize(path),
            "raw_int16_bytes": raw_bytes, "peak_rss_bytes": peak_bytes, "peak_over_raw": round(peak_bytes / raw_bytes, 3),
            "steps": result["steps"], "true_steps": true_steps,
            "walking_min": round(sum(m["walk_s"] for m in result["minutes"]) / 60, 1), "true_walking_min": true_walk_min,
            "csv_write_s": round(written_s, 1), "replay_s": round(replay_s, 1)}))


if __name__ == "__main__":
    main()
