"""Replay: a recording's int16 counts through a detector engine, its events gathered into one result on the
recording's own clock, one recording or many in parallel; a recording with gaps is
replayed stretch by stretch. The result is what `walkdose replay --json` prints;
the engines must agree on it."""
import importlib.resources
import multiprocessing
import os
import subprocess
import sys
import tempfile

import numpy as np
import tqdm

from . import argtypes, commands, dayrules, recording
from .firmware import detector as spec

BATCH_SAMPLES = 4096
DEFAULT_RATE_HZ = 50.0  # the rate of the accuracy tables in the README
COUNTS_PER_G = 4096  # +/-8 g on every supported IMU


class Events:
    """Collects detector events, then turns them into the result with sample indices made absolute
    (minute * samples_per_minute + pos). Kept in one growing numpy buffer: a week holds half a million steps,
    gathered a few dozen at a time."""

    def __init__(self, rate_mhz):
        self.rate_hz = rate_mhz / 1000.0
        self.spm = rate_mhz * 60 // 1000
        self.words = np.zeros(1024 * spec.EV_WORDS, dtype=np.int64)
        self.n_words = 0

    def add(self, events, n_events):
        """Copy the first n_events events out of `events` (a numpy view of the detector's buffer, or any
        sequence of words)."""
        n = n_events * spec.EV_WORDS
        end = self.n_words + n
        if end > len(self.words):
            self.words = np.resize(self.words, 2 * end)
        self.words[self.n_words:end] = events[:n]
        self.n_words = end

    def result(self):
        """The replay result: counts and times in seconds (rounded to the millisecond)."""
        words = self.words[:self.n_words].reshape(-1, spec.EV_WORDS)
        kind = words[:, 0]
        unknown = ~np.isin(kind, (spec.EV_STEP, spec.EV_WALK, spec.EV_BOUT, spec.EV_MINUTE))
        if unknown.any():
            raise RuntimeError(f"detector emitted unknown event kind {kind[unknown][0]}")
        base = words[:, 1] * self.spm
        steps = (base + words[:, 2])[kind == spec.EV_STEP]
        bout = kind == spec.EV_BOUT
        minutes = words[kind == spec.EV_MINUTE].tolist()

        def spans(of_kind):
            """(start, end) sample pairs of the events of_kind marks."""
            return np.stack([base[of_kind] + words[of_kind, 2], base[of_kind] + words[of_kind, 3]], axis=1)

        def sec(samples):
            return np.round(samples / self.rate_hz, 3).tolist()

        walking = spans(kind == spec.EV_WALK)
        bouts = spans(bout)

        return {
            "steps": len(steps),
            "walking_s": round(int((walking[:, 1] - walking[:, 0]).sum()) / self.rate_hz, 3),
            "step_times": sec(steps),
            "walking": sec(walking),
            "bouts": [{"start_s": a, "end_s": b, "steps": n, "cadence_spm": cad}
                      for (a, b), n, cad in zip(sec(bouts), words[bout, 4].tolist(), words[bout, 5].tolist())],
            "minutes": [{"t_s": minute * 60, "walk_s": walk_s, "steps": n, "pace": dayrules.PACE_NAMES[pace],
                         "movement": move} for _, minute, walk_s, n, pace, move in minutes],
        }


def shifted(result, seconds):
    """The result with its step, walking and bout times moved by `seconds` (minutes keep their own clock)."""
    def move(t):
        return round(t + seconds, 3)
    return {**result,
            "step_times": [move(t) for t in result["step_times"]],
            "walking": [[move(a), move(b)] for a, b in result["walking"]],
            "bouts": [{**b, "start_s": move(b["start_s"]), "end_s": move(b["end_s"])} for b in result["bouts"]]}


def run(engine, chunks, rate_mhz, counts_per_g):
    """Replay int16 (k, 3) chunks through the named engine; every engine gives the same result."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}' (choose from {', '.join(sorted(ENGINES))})")
    return ENGINES[engine](chunks, rate_mhz, counts_per_g)


def feed_all(det, chunks, rate_mhz, flat_of):
    """Feed every chunk in batches of BATCH_SAMPLES, as a board's FIFO would, then flush; the events' result."""
    events = Events(rate_mhz)
    words = np.asarray(det.events)  # a view: the detector rewrites the same buffer at every call
    for chunk in chunks:
        flat = flat_of(chunk)
        total = len(chunk)
        for start in range(0, total, BATCH_SAMPLES):
            n = min(BATCH_SAMPLES, total - start)
            while n:
                used = det.feed(flat, start, n)
                events.add(words, det.n_events)
                start += used
                n -= used
    events.add(words, det.flush())
    return events.result()


def compiled_detector():
    """The firmware detector compiled by Cython at install (walkdose.detector, typed by host/detector.pxd)."""
    from .detector import Detector
    return Detector


def run_cython(chunks, rate_mhz, counts_per_g):
    """The firmware detector compiled: the same source, in C."""
    def flat_of(chunk):
        return np.ascontiguousarray(chunk, dtype=np.int16).reshape(-1)

    return feed_all(compiled_detector()(rate_mhz, counts_per_g), chunks, rate_mhz, flat_of)


def run_python(chunks, rate_mhz, counts_per_g):
    """The firmware detector itself, under CPython."""
    from array import array

    def flat_of(chunk):
        # array("h") hands the detector Python ints; numpy's int16 scalars would overflow in x * x.
        return array("h", np.ascontiguousarray(chunk, dtype=np.int16).tobytes())

    return feed_all(spec.Detector(rate_mhz, counts_per_g), chunks, rate_mhz, flat_of)


def firmware_root():
    """The folder holding firmware/ and sim/ (the repo, or site-packages/walkdose): MICROPYPATH for both."""
    return str(importlib.resources.files("walkdose.firmware").parent)


def run_micropython(chunks, rate_mhz, counts_per_g):
    """The firmware detector under the real MicroPython unix port (sim/replay_driver.py), samples through a
    temporary raw int16 file, events back as lines of integers."""
    root = firmware_root()
    with tempfile.NamedTemporaryFile(suffix=".i16") as raw:
        for chunk in chunks:
            raw.write(np.ascontiguousarray(chunk, dtype="<i2").tobytes())
        raw.flush()
        done = subprocess.run([commands.find("micropython"), os.path.join(root, "sim", "replay_driver.py"), raw.name,
                               str(rate_mhz), str(counts_per_g)], capture_output=True, text=True,
                              env=dict(os.environ, MICROPYPATH=root))
    if done.returncode != 0:
        raise RuntimeError(f"micropython replay failed (exit {done.returncode}): {done.stderr.strip()}")
    return driver_result(done.stdout, rate_mhz)


def driver_result(printed, rate_mhz):
    """The result of what sim/replay_driver.py printed in events mode: lines of EV_WORDS integers."""
    words = np.array(printed.split(), dtype=np.int64)
    events = Events(rate_mhz)
    events.add(words, len(words) // spec.EV_WORDS)
    return events.result()


ENGINES = {"cython": run_cython, "python": run_python, "micropython": run_micropython}


def add_options(parser):
    """The options of the commands that replay recordings: device rate, engine and parallel processes."""
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_HZ, help="device rate in Hz (default %(default)g)")
    parser.add_argument("--engine", choices=tuple(ENGINES), default="cython",
                        help="detector implementation (identical results; default %(default)s)")
    parser.add_argument("--jobs", type=argtypes.whole(1), default=os.cpu_count() or 1,
                        help="parallel processes over many recordings (default: one per CPU)")
    add_quiet(parser)


def add_quiet(parser):
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on stderr (it shows only on a terminal in any case)")


def device_rate_mhz(rate_hz):
    """--rate in Hz as a device rate in mHz; RecordingError unless a board can run at it."""
    rate_mhz = int(round(rate_hz * 1000))
    if rate_mhz not in recording.DEVICE_RATES_MHZ:
        rates = ", ".join(f"{r / 1000:g}" for r in recording.DEVICE_RATES_MHZ)
        raise recording.RecordingError(f"--rate {rate_hz:g} Hz is not a device rate (choose from {rates})")
    return rate_mhz


def run_file(path, rate_mhz, engine, phase=0.0, magnitude=False):
    """The detector's result on a recording, times on the recording's clock; `phase` places the device's
    samples that fraction of a sample period later; `magnitude` replays |a| alone (recording.magnitude_only).
    A research file's clock is seconds from its first sample, gaps included, and its result adds `start_s`, that
    sample's wall-clock time in seconds since 1970 (0.0 for a CSV with gaps of over recording.MAX_GAP_S, which
    keeps its own clock)."""
    phase_s = phase * 1000.0 / rate_mhz
    parts = [(start_s, run(engine, map(recording.magnitude_only, counts) if magnitude else counts, rate_mhz,
                           COUNTS_PER_G))
             for start_s, counts in recording.iter_segments(path, rate_mhz, COUNTS_PER_G, phase)]
    if len(parts) == 1 and parts[0][0] is None:  # a CSV without gaps: its own clock
        return shifted(parts[0][1], phase_s) if phase else parts[0][1]
    return joined([(0.0 if start_s is None else start_s, result) for start_s, result in parts], phase_s)


def joined(parts, phase_s=0.0):
    """One result from the (start_s, result) of a recording's stretches between gaps, on the first one's clock;
    a minute keeps its stretch's boundaries, moved by the whole seconds between the stretches' starts."""
    origin_s = parts[0][0]
    out = {"start_s": origin_s, "steps": 0, "walking_s": 0.0, "step_times": [], "walking": [], "bouts": [],
           "minutes": []}
    for start_s, result in parts:
        moved = shifted(result, start_s - origin_s + phase_s)
        out["steps"] += moved["steps"]
        out["walking_s"] = round(out["walking_s"] + moved["walking_s"], 3)
        for key in ("step_times", "walking", "bouts"):
            out[key].extend(moved[key])
        out["minutes"].extend({**m, "t_s": m["t_s"] + round(start_s - origin_s)} for m in result["minutes"])
    return out


def _run_file_job(args):
    path, rate_mhz, engine, phase, magnitude = args
    try:
        return path, phase, run_file(path, rate_mhz, engine, phase, magnitude), None
    except (recording.RecordingError, OSError) as exc:
        return path, phase, None, str(exc)


def run_files(paths, rate_mhz, engine, jobs, phases=(0.0,), quiet=False, magnitude=False):
    """Replay many recordings (each at every phase, as |a| alone if `magnitude`) in parallel processes; yields
    (path, phase, result, error) in order, phases innermost."""
    work = [(p, rate_mhz, engine, phase, magnitude) for p in paths for phase in phases]
    if jobs <= 1 or len(work) <= 1:
        yield from progress(map(_run_file_job, work), len(work), quiet=quiet)
        return
    with multiprocessing.Pool(jobs) as pool:
        yield from progress(pool.imap(_run_file_job, work), len(work), quiet=quiet)


def progress(items, total, unit="file", quiet=False):
    """items with a bar on stderr counting them, shown only when stderr is a terminal and not quiet."""
    return tqdm.tqdm(items, total=total, unit=unit, disable=quiet or not sys.stderr.isatty(), file=sys.stderr)
