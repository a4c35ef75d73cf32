"""Replay under MicroPython: raw little-endian int16 x, y, z from a file through the firmware detector, its
events printed one per line as EV_WORDS integers. Run by host/replay.py as
`micropython sim/replay_driver.py FILE RATE_MHZ COUNTS_PER_G` with MICROPYPATH at the folder holding
firmware/. Reads into one preallocated buffer, as a board drains its FIFO; knows nothing of the host's result."""
import sys
from array import array

from firmware.detector import EV_WORDS, Detector

BATCH_SAMPLES = 4096


def print_events(det, n_events):
    ev = det.events
    for k in range(0, n_events * EV_WORDS, EV_WORDS):
        print(ev[k], ev[k + 1], ev[k + 2], ev[k + 3], ev[k + 4], ev[k + 5])


def main(path, rate_mhz, counts_per_g):
    det = Detector(rate_mhz, counts_per_g)
    buf = array("h", [0] * (3 * BATCH_SAMPLES))
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf) // 6
            if not n:
                break
            start = 0
            while n:
                used = det.feed(buf, start, n)
                print_events(det, det.n_events)
                start += used
                n -= used
    print_events(det, det.flush())


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
