"""Stride self-similarity of the trough signal per counted step, by kind of recording: does a walk's signal repeat
from stride to stride where arm work's does not? Research only, measures and prints; docs/detector.md ("Arm work's
walks going on", 2026-12-07) holds the results.

    python benchmarks/stride_similarity.py ../shared/data/public [--rate 50]

Each recording is replayed at the device rate as `walkdose eval` does (phase 0). At every step of every walk the
detector counted (from its fifth on), the trough signal (|a| through the detector's low-pass, minus its baseline, in
floats) over the last stride (two step intervals, the median of the walk's last four) is correlated with itself a
lag earlier, the lag searched over 0.8-1.25 strides (the walker's stride drifts; a fixed lag of two tracked step
intervals separates less), means removed: 1 is the same waveform every stride. Printed per group: p10/p50/p90 over
steps; p10/p50 and the minimum over walks of at least 6 steps of each walk's mean; the share of steps at which a
running mean (weight 1/8 per step, from 1) is below 0.3, 0.4 and 0.5.
"""
import os
import sys

import numpy as np

from impact_cues import gathered, group_of, lowpassed
from walkdose import recording, replay
from walkdose.detector import Detector
from walkdose.errors import UserError
from walkdose.firmware.detector import CH_K_LP, CH_KB

GROUPS = ("rieck arm work", "rieck desk/pc", "rieck slow walks", "rieck normal walks", "rieck fast walks", "espruino walks",
          "espruino still/mixed", "oxford-phone", "truong-lowerback", "hmp walk", "hmp non-walk")
LAG_FROM, LAG_TO = 0.8, 1.25
RUNNING_BELOW = (0.3, 0.4, 0.5)


def group_here(truth):
    """impact_cues.py's groups, rieck's walks by pace (slow walks are the ones slow-gait support must rescue)."""
    group = group_of(truth)
    return f"rieck {str(truth['activity']).split('-')[0]} walks" if group == "rieck walks" else group


def trough_signal(counts, rate_mhz):
    """The detector's trough signal in mg, in floats: the slow baseline minus the low-passed |a|."""
    det = Detector(rate_mhz, replay.COUNTS_PER_G)
    a_mg = np.sqrt((counts.astype(np.float64) ** 2).sum(axis=1)) * 1000.0 / replay.COUNTS_PER_G
    low = lowpassed(a_mg, det.chain[CH_K_LP])
    base = np.empty_like(low)
    b = low[0]
    weight = 2.0 ** -det.chain[CH_KB]
    for i, v in enumerate(low):
        b += (v - b) * weight
        base[i] = b
    return base - low


def correlation(x, y):
    x = x - x.mean()
    y = y - y.mean()
    scale = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / scale) if scale > 0 else 0.0


def walk_similarities(path, rate_mhz):
    """Per counted walk of at least 6 steps, the similarity at each of its steps from the fifth on."""
    for _, chunks in recording.iter_segments(path, rate_mhz, replay.COUNTS_PER_G, 0.0):
        chunks = list(chunks)
        counts = np.concatenate(chunks) if chunks else np.zeros((0, 3), dtype=np.int16)
        result = replay.run("cython", [counts], rate_mhz, replay.COUNTS_PER_G)
        hp = trough_signal(counts, rate_mhz)
        steps = np.round(np.array(result["step_times"]) * rate_mhz / 1000.0).astype(int)
        for start_s, end_s in result["walking"]:
            at = steps[(steps >= round(start_s * rate_mhz / 1000.0)) & (steps <= round(end_s * rate_mhz / 1000.0))]
            sims = []
            for k in range(4, len(at)):
                stride = int(round(2 * np.median(np.diff(at[k - 4:k + 1]))))
                lags = range(int(stride * LAG_FROM), int(stride * LAG_TO) + 1)
                t = at[k]
                if stride < 2 or t - stride - lags[-1] < 0:
                    continue
                sims.append(max(correlation(hp[t - stride:t], hp[t - stride - g:t - g]) for g in lags))
            if len(sims) >= 2:
                yield sims


def main():
    rate, walks = gathered(__doc__.splitlines()[0], walk_similarities, group_here)
    print(f"{rate:g} Hz; per step p10/p50/p90; per walk mean p10/p50/min; running mean below "
          + ", ".join(f"{t:g}" for t in RUNNING_BELOW))
    for group in GROUPS:
        sims = walks[group]
        if not sims:
            continue
        steps = np.concatenate(sims)
        means = [np.mean(s) for s in sims]
        below = np.zeros(len(RUNNING_BELOW))
        for s in sims:
            running = 1.0
            for v in s:
                running += (v - running) / 8
                below += [running < t for t in RUNNING_BELOW]
        print(f"{group:22} {len(sims):4d} walks {len(steps):6d} steps  "
              + "/".join(f"{v:.2f}" for v in np.percentile(steps, [10, 50, 90])) + "  "
              + "/".join(f"{v:.2f}" for v in (np.percentile(means, 10), np.median(means), min(means))) + "  "
              + " ".join(f"{100 * b / len(steps):4.0f}%" for b in below))


if __name__ == "__main__":
    os.nice(5)
    try:
        main()
    except UserError as error:
        print(f"stride_similarity.py: {error}", file=sys.stderr)
        sys.exit(2)
