"""The firmware detector under MicroPython, fed from a file of raw little-endian int16 x, y, z in batches
through one preallocated buffer, as a board drains its FIFO. Run with MICROPYPATH at the folder holding
firmware/:

    micropython sim/replay_driver.py FILE RATE_MHZ COUNTS_PER_G [events|alloc|locked]

events (default): every event, one line of EV_WORDS integers (host/replay.py parses them).
alloc: heap bytes allocated inside feed() with gc off, and samples fed (host/bench.py).
locked: samples, steps and minute records.
Except in alloc mode the heap is locked around every feed() call, so any allocation in it raises MemoryError.
Knows nothing of the host's result format."""
import gc
import sys
from array import array

import micropython

from firmware.detector import EV_MINUTE, EV_STEP, EV_WORDS, Detector

BATCH_SAMPLES = 4096


def print_events(det, n_events):
    ev = det.events
    for k in range(0, n_events * EV_WORDS, EV_WORDS):
        print(ev[k], ev[k + 1], ev[k + 2], ev[k + 3], ev[k + 4], ev[k + 5])


def feed_batch(det, buf, n, after, lock):
    """Feed n samples, calling after(det) whenever feed() returns (it may stop early to leave event room)."""
    start = 0
    while n:
        if lock:
            micropython.heap_lock()
        used = det.feed(buf, start, n)
        if lock:
            micropython.heap_unlock()
        after(det)
        start += used
        n -= used


def each_batch(path, batch_samples, handle):
    # Unsigned words, as feed()'s ptr16() reads them: the same buffer serves the viper emitter and an
    # interpreter without it, where ptr16() is the buffer itself (tests/test_detector_wasm32.py).
    buf = array("H", [0] * (3 * batch_samples))
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf) // 6
            if not n:
                return
            handle(buf, n)


def main(path, rate_mhz, counts_per_g, mode):
    det = Detector(rate_mhz, counts_per_g)
    totals = array("i", [0, 0, 0])  # samples, steps, minute records (or heap bytes in alloc mode)

    def print_all(d):
        print_events(d, d.n_events)

    def count(d):
        ev = d.events
        for k in range(0, d.n_events * EV_WORDS, EV_WORDS):
            if ev[k] == EV_STEP:
                totals[1] += 1
            elif ev[k] == EV_MINUTE:
                totals[2] += 1

    def ignore(d):
        pass

    def handle(buf, n):
        if mode == "events":
            feed_batch(det, buf, n, print_all, True)
        elif mode == "alloc":
            before = gc.mem_alloc()
            feed_batch(det, buf, n, ignore, False)
            totals[2] += gc.mem_alloc() - before
        else:
            feed_batch(det, buf, n, count, True)
        totals[0] += n

    if mode == "alloc":
        gc.collect()
        gc.disable()
    each_batch(path, 170 if mode == "locked" else BATCH_SAMPLES, handle)
    if mode == "events":
        print_events(det, det.flush())
    elif mode == "locked":
        det.flush()
        count(det)
        print(totals[0], totals[1], totals[2])
    else:
        print(totals[2], totals[0])


if sys.argv[4:] and sys.argv[4] not in ("events", "alloc", "locked"):
    raise SystemExit("mode must be events, alloc or locked")
main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if sys.argv[4:] else "events")
