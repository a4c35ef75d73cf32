"""The simulated wearer: which acceleration the board feels at each sample of each simulated day.

A day plan places clips (recordings already resampled to int16 counts at the device rate, read from their
files as they play: a clip of hours would not fit the board's heap) at times of day, each repeated back to
back; between them, inside the waking hours, the wearer sits and fidgets (a looping clip); outside them the
board lies still on a nightstand. Runs under MicroPython (inside the simulated board) and CPython (tests
render the same samples for `walkdose replay`). Knows nothing of chips, registers or steps.
"""
import os
from array import array

STILL = (0, 0, 4096)  # flat on a table, +1 g on z at 4096 counts/g


def samples_per_day(rate_mhz):
    return 86400 * rate_mhz // 1000


def day_segments(rate_mhz, plan, clip_samples, wake_s, sleep_s):
    """Sorted (first, end, clip) sample ranges of one day; clip -1 is the nightstand, -2 fidgeting.

    plan: (start_s, clip, repeats) with start_s in seconds after local midnight.
    """
    spd = samples_per_day(rate_mhz)
    placed = []
    for start_s, clip, repeats in sorted(plan):
        first = start_s * rate_mhz // 1000
        end = first + repeats * clip_samples[clip]
        if placed and first < placed[-1][1]:
            raise ValueError("the clip at %d s of the day starts before the one before it ends" % start_s)
        if end > spd:
            raise ValueError("the clip at %d s of the day runs past midnight" % start_s)
        placed.append((first, end, clip))
    wake = wake_s * rate_mhz // 1000
    sleep = sleep_s * rate_mhz // 1000
    segments = []
    at = 0
    for first, end, clip in placed + [(spd, spd, None)]:
        for lo, hi, kind in ((0, wake, -1), (wake, sleep, -2), (sleep, spd, -1)):
            lo = max(lo, at)
            hi = min(hi, first)
            if lo < hi:
                segments.append((lo, hi, kind))
        if clip is not None:
            segments.append((first, end, clip))
        at = end
    return segments


class Counts:
    """x, y, z int16 counts held in memory: the nightstand, and short clips in tests."""

    def __init__(self, counts):
        self.counts = counts
        self.samples = len(counts) // 3

    def copy_into(self, buf, at, first, n):
        """Samples first .. first + n - 1 into buf from sample `at` on."""
        buf[3 * at:3 * (at + n)] = self.counts[3 * first:3 * (first + n)]


class CountsFile:
    """x, y, z little-endian int16 counts in a file, opened once and read as they play, never held whole."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "rb")
        self.samples = os.stat(path)[6] // 6

    def copy_into(self, buf, at, first, n):
        self.file.seek(6 * first)
        got = self.file.readinto(memoryview(buf)[3 * at:3 * (at + n)])
        if got != 6 * n:
            raise OSError("%s: %d bytes at sample %d, expected %d: the clip changed while playing"
                          % (self.path, got, first, 6 * n))


class Wearer:
    """Samples from sample 0, `start_s` seconds after local midnight of the first simulated day, on.

    clips and fidget: Counts or CountsFile.
    """

    def __init__(self, rate_mhz, plan, clips, fidget, wake_s=7 * 3600, sleep_s=23 * 3600, start_s=0):
        self.clips = clips
        self.fidget = fidget
        self.spd = samples_per_day(rate_mhz)
        self.segments = day_segments(rate_mhz, plan, [c.samples for c in clips], wake_s, sleep_s)
        self.still = Counts(array("h", STILL * 256))
        self.first = start_s * rate_mhz // 1000

    def fill(self, buf, first, n):
        """Samples first .. first + n - 1 into buf as x, y, z."""
        done = 0
        while done < n:
            in_day = (self.first + first + done) % self.spd
            for lo, hi, kind in self.segments:
                if lo <= in_day < hi:
                    break
            if kind == -1:
                source, offset = self.still, 0
            elif kind == -2:
                source, offset = self.fidget, in_day - lo
            else:
                source, offset = self.clips[kind], in_day - lo
            offset %= source.samples
            m = min(n - done, hi - in_day, source.samples - offset)
            source.copy_into(buf, done, offset, m)
            done += m
