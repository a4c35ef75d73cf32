"""Foot-impact cues of the unfiltered |a| per counted walk, by kind of recording: does walking jolt |a| where arm
work does not? Research only, measures and prints; docs/detector.md ("Foot impacts", 2026-12-07) holds the results.

    python benchmarks/impact_cues.py ../shared/data/public [--rate 50]

Each recording is replayed at the device rate as `walkdose eval` does (phase 0); for each walk the detector counted,
its first 8 intervals (counted step to counted step) give, as medians: S, the largest |a| over its low-passed value
(mg); J, the largest change of |a| from one sample to the next (mg); both per 100 mg of the interval's low-passed
peak-to-trough depth (S/D, J/D); and R, how alike the sharpest jolt's place in the interval is from step to step
(100: the same phase every step, about 30 for 8 random phases). Printed: p10/p50/p90 over the walks of each group,
then the share of each group's counted steps in walks that a per-walk limit on R or J/D would drop.
"""
import argparse
import collections
import json
import os
import sys

import numpy as np

from walkdose import evaluate, recording, replay
from walkdose.firmware.detector import LP_CUTOFF_MHZ, lowpass_q12
from walkdose.errors import UserError

FIRST_INTERVALS = 8
GROUPS = ("rieck arm work", "rieck desk/pc", "rieck walks", "espruino walks", "espruino still/mixed",
          "oxford-phone", "truong-lowerback", "hmp walk", "hmp non-walk")
LIMITS = (("R<40", lambda w: w["R"] < 40), ("R<50", lambda w: w["R"] < 50), ("R<60", lambda w: w["R"] < 60),
          ("J/D>40", lambda w: w["J/D"] > 40), ("J/D>50", lambda w: w["J/D"] > 50), ("J/D>60", lambda w: w["J/D"] > 60))


def group_of(truth):
    """The kind of recording, from its truth: walking or not, and for rieck's still clips which activity."""
    dataset, activity = truth.get("dataset", ""), str(truth.get("activity", ""))
    if dataset == "rieck-wrist-magnitude":
        if "walking" in activity:
            return "rieck walks"
        return "rieck arm work" if activity.rstrip("0123456789") in ("shoe-laces", "dressing", "dishwasher") else "rieck desk/pc"
    if dataset == "espruino-wrist":
        walks = (truth.get("steps") or 0) * 60.0 / truth["duration_s"] >= evaluate.STILL_BELOW_SPM  # as eval scores it
        return "espruino walks" if walks else "espruino still/mixed"
    if dataset == "hmp-wrist":
        return "hmp walk" if activity == "Walk" else "hmp non-walk"
    return dataset


def lowpassed(a_mg, k_lp_q12):
    """|a| through the detector's two one-pole stages (coefficient k_lp in Q12), in floats."""
    k = k_lp_q12 / 4096.0
    out = np.empty_like(a_mg)
    lp1 = lp2 = a_mg[0]
    for i, a in enumerate(a_mg):
        lp1 += (a - lp1) * k
        lp2 += (lp1 - lp2) * k
        out[i] = lp2
    return out


def walk_cues(path, rate_mhz):
    """The cues of every walk the detector counts in the recording (walks of fewer than 4 intervals left out)."""
    counts = recording.load_counts(path, rate_mhz, replay.COUNTS_PER_G)
    result = replay.run("cython", [counts], rate_mhz, replay.COUNTS_PER_G)
    rate_hz = rate_mhz / 1000.0
    steps = np.round(np.array(result["step_times"]) * rate_hz).astype(int)
    a_mg = np.sqrt((counts.astype(np.float64) ** 2).sum(axis=1)) * 1000.0 / replay.COUNTS_PER_G
    over = a_mg - lowpassed(a_mg, lowpass_q12(LP_CUTOFF_MHZ, rate_mhz))
    low = a_mg - over
    jump = np.abs(np.diff(a_mg, prepend=a_mg[0]))
    for start_s, end_s in result["walking"]:
        ends = steps[(steps >= round(start_s * rate_hz)) & (steps <= round(end_s * rate_hz))]
        pairs = [(a, b) for a, b in zip(ends[:-1], ends[1:]) if b - a >= 2][:FIRST_INTERVALS]
        if len(pairs) < 4:
            continue
        depth = [max(np.ptp(low[a + 1:b + 1]), 1.0) for a, b in pairs]
        s = [over[a + 1:b + 1].max() for a, b in pairs]
        j = [jump[a + 1:b + 1].max() for a, b in pairs]
        phase = [np.argmax(over[a + 1:b + 1]) / (b - a) for a, b in pairs]
        yield {"steps": len(ends), "S": np.median(s), "J": np.median(j), "S/D": 100 * np.median(np.divide(s, depth)),
               "J/D": 100 * np.median(np.divide(j, depth)), "R": 100 * abs(np.mean(np.exp(2j * np.pi * np.array(phase))))}


def gathered(description, walks_of, group=group_of):
    """The command line (folders, --rate) parsed, and walks_of(path, rate_mhz) of every recording with truth gathered
    by group(truth): (rate in Hz, {group: [walk, ...]}). Shared with stride_similarity.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    rate_mhz = replay.device_rate_mhz(args.rate)
    walks = collections.defaultdict(list)
    for path in recording.find_recordings(args.folders):
        truth_file = recording.truth_path(path)
        if truth_file:
            with open(truth_file, encoding="utf-8") as fh:
                walks[group(json.load(fh))].extend(walks_of(path, rate_mhz))
    return args.rate, walks


def main():
    rate, walks = gathered(__doc__.splitlines()[0], walk_cues)
    keys = ("S", "J", "S/D", "J/D", "R")
    print(f"{rate:g} Hz, per counted walk, p10/p50/p90 over walks")
    print(f"{'group':22} {'walks':>5} {'steps':>6}  " + " ".join(f"{k:15}" for k in keys))
    for group in GROUPS:
        rows = walks[group]
        if rows:
            cells = ["/".join(f"{v:.0f}" for v in np.percentile([w[k] for w in rows], [10, 50, 90])) for k in keys]
            print(f"{group:22} {len(rows):5d} {sum(w['steps'] for w in rows):6d}  " + " ".join(f"{c:15}" for c in cells))
    print("share of counted steps in walks a per-walk limit would drop")
    print(f"{'group':22} " + " ".join(f"{name:>7}" for name, _ in LIMITS))
    for group in GROUPS:
        total = sum(w["steps"] for w in walks[group]) or 1
        print(f"{group:22} " + " ".join(f"{100 * sum(w['steps'] for w in walks[group] if test(w)) / total:6.0f}%"
                                        for _, test in LIMITS))


if __name__ == "__main__":
    os.nice(5)
    try:
        main()
    except UserError as error:
        print(f"impact_cues.py: {error}", file=sys.stderr)
        sys.exit(2)
