"""The heel-strike spike's place in each interval of a trough walk, by kind of recording: does it keep its place from
step to step in walks where arm work's moves? Research only, measures and prints; docs/detector.md ("The heel
strike's place in a trough walk", 2026-12-07) holds the results.

    python benchmarks/spike_phase.py ../shared/data/public [--rate 50]

Each recording is replayed at the device rate as `walkdose eval` does (phase 0) by the interpreted detector, hooked
where feed() settles a spike of the spike stream (over SPIKE_MG, the highest within STEP_MIN_MS; settled while the
troughs count a walk too) and around candidate(). For every interval by which a trough walk goes on (hidden-step
doubles left out of the spike counts): whether a spike falls in it; J, its place in the interval (a share of it,
circular) moved since the interval before, over 1/4 for the highest spike, over 1/5 for the spike nearest the place
before; and the share of walking intervals at which the erratic share (1/8 an interval, as candidate() keeps it) is over
ERRATIC_EIGHTHS/8, as the detector has it and with J added to its erratic flag.
"""
import bisect
import collections
import os
import sys
from array import array

import numpy as np

from ablation import edited_module
from impact_cues import GROUPS, gathered
from walkdose import recording, replay
from walkdose.errors import UserError

SETTLED = "                spike_amp = 0\n"  # the line of feed() that ends a settled spike
# The detector with a hook appending each settled spike (position, height) to the module's SPIKES.
HOOKED = edited_module([(SETTLED, "                SPIKES.append((self.minute * self.spm + spike_pos, spike_amp))\n" + SETTLED)])
HOOKED.SPIKES = []


def intervals(path, rate_mhz):
    """Each interval by which a trough walk went on: (start, end, the detector's erratic flag, share before, double)."""
    counts = recording.load_counts(path, rate_mhz, replay.COUNTS_PER_G)
    det = HOOKED.Detector(rate_mhz, replay.COUNTS_PER_G)
    HOOKED.SPIKES.clear()
    found = []
    candidate = det.candidate

    def traced(at, depth):
        walking, share, start, base, d_step = det.walking, det.win_sums[HOOKED.WIN_ERRATIC], det.cand_pos, det.minute * det.spm, det.d_step
        candidate(at, depth)
        if walking == 1 and det.walking == 1:
            flagged = det.win_sums[HOOKED.WIN_ERRATIC] > share or share == 256
            found.append((base + start, base + at, flagged, share, d_step * HOOKED.DOUBLE_FROM_EIGHTHS <= (at - start) * 8 <= d_step * HOOKED.DOUBLE_TO_EIGHTHS))

    det.candidate = traced
    replay.feed_all(det, [counts], rate_mhz, lambda chunk: array("h", np.ascontiguousarray(chunk, dtype=np.int16).tobytes()))
    return [(found, list(HOOKED.SPIKES))]


def circular(a, b):
    x = abs(a - b) % 1.0
    return min(x, 1.0 - x)


def walk_stats(found, spikes):
    """Counts over one recording's walking intervals."""
    at = [p for p, _ in spikes]
    height = [h for _, h in spikes]
    c = collections.Counter()
    limit = HOOKED.ERRATIC_EIGHTHS << 5
    last = {"highest": None, "nearest": None}
    run = {"highest": None, "nearest": None}
    prev_end = None
    for start, end, flagged, share, double in found:
        if start != prev_end:
            last = dict.fromkeys(last)
            run = dict.fromkeys(run, share)
        prev_end = end
        first, stop = bisect.bisect_right(at, start), bisect.bisect_right(at, end)
        places = [(at[k] - start) / (end - start) for k in range(first, stop)]
        c["n"] += 1
        c["spike"] += bool(places)
        if not double:
            c["single"] += 1
            c[f"spikes{min(len(places), 2)}"] += 1
        for form, limit_move in (("highest", 0.25), ("nearest", 0.2)):
            moved = False
            if places:
                if form == "nearest" and last[form] is not None:
                    place = min(places, key=lambda p: circular(p, last[form]))
                else:
                    place = places[max(range(len(places)), key=lambda k: height[first + k])]
                moved = last[form] is not None and circular(place, last[form]) > limit_move
                last[form] = place
            c["J " + form] += moved
            run[form] += (256 - run[form]) >> 3 if flagged or moved else -(run[form] >> 3)
            c["trial " + form] += run[form] > limit
        c["trial"] += share > limit
    return c


def main():
    rate, walks = gathered(__doc__.splitlines()[0], intervals)
    print(f"{rate:g} Hz, share of trough-walk intervals; spikes per interval of one step")
    print(f"{'group':22} {'intervals':>9} {'spike':>6} {'J high':>6} {'J near':>6} {'trial':>6} {'+high':>6} {'+near':>6}"
          f" {'0 spk':>6} {'2+ spk':>6}")
    for group in GROUPS:
        c = collections.Counter()
        for found, spikes in walks[group]:
            c.update(walk_stats(found, spikes))
        if c["n"]:
            share = [100 * c[k] / c["n"] for k in ("spike", "J highest", "J nearest", "trial", "trial highest", "trial nearest")]
            single = [100 * c[k] / max(c["single"], 1) for k in ("spikes0", "spikes2")]
            print(f"{group:22} {c['n']:9d} " + " ".join(f"{v:5.1f}%" for v in share + single))


if __name__ == "__main__":
    os.nice(5)
    try:
        main()
    except UserError as error:
        print(f"spike_phase.py: {error}", file=sys.stderr)
        sys.exit(2)
