"""Peak memory of `walkdose replay` on a long recording: writes a synthetic wearer's CSV (still with sensor
noise, and WALKS_PER_DAY hour-long walks at WALK_SPM a day), replays it in a child process and reports the
child's peak resident size against the raw int16 array the samples would fill, with the steps and walking
minutes found against the ones written. Prints one JSON object.

    python benchmarks/replay_memory.py [--days 7] [--rate 100] [--keep FILE]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

WALKS_PER_DAY = 3
WALK_MIN = 60
WALK_SPM = 108
BOUNCE_G = 0.3  # vertical acceleration amplitude of each step
NOISE_G = 0.01
SEED = 7
CHUNK_S = 600


def write_csv(path, days, rate_hz):
    """The wearer's recording; (samples, true steps, true walking minutes)."""
    rng = np.random.default_rng(SEED)
    day_s = 86400
    walk_starts = [(9 + 4 * k) * 3600 for k in range(WALKS_PER_DAY)]  # 09:00, 13:00, 17:00
    total = int(days * day_s * rate_hz)
    walking_samples = 0
    with open(path, "w") as f:
        f.write("t,x,y,z\n")
        for first in range(0, total, int(CHUNK_S * rate_hz)):
            n = min(int(CHUNK_S * rate_hz), total - first)
            t = (first + np.arange(n)) / rate_hz
            xyz = rng.normal(scale=NOISE_G, size=(n, 3))
            xyz[:, 2] += 1.0
            since = t % day_s
            for start in walk_starts:
                walking = (since >= start) & (since < start + WALK_MIN * 60)
                walking_samples += int(walking.sum())
                phase = 2 * np.pi * WALK_SPM / 60.0 * (since[walking] - start)
                xyz[walking, 2] += BOUNCE_G * np.sin(phase)
                xyz[walking, 0] += 0.5 * BOUNCE_G * np.sin(phase / 2)  # arm/hip sway at stride rate
            np.savetxt(f, np.column_stack([t, xyz]), fmt=("%.3f", "%.4f", "%.4f", "%.4f"), delimiter=",")
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
