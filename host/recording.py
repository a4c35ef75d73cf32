"""Recording readers: the interchange CSV (`t,x,y,z`, seconds and g) turned into the int16 counts an IMU
would deliver at the device rate. Reads in chunks so a week at 100 Hz never sits in memory as text or floats.
Knows nothing of steps."""
import itertools
import math
import os

import numpy as np

from . import formats
from .resample import Resampler
from .errors import UserError
from .firmware import boards

MIN_RATE_HZ = 10.0
CHUNK_ROWS = 1 << 16
# A longer gap is the device off, not movement to interpolate: the replay's clock is its sample count, so a
# gap would be filled with invented samples. replay and eval run the stretches between such gaps one by one.
MAX_GAP_S = 3600.0


class RecordingError(UserError, ValueError):
    """A recording that cannot be read; the message names the file and what is wrong."""


# Every rate some supported board may run at (firmware/boards.py), in mHz.
DEVICE_RATES_MHZ = tuple(sorted({rate for profile in boards.PROFILES.values() for rate in profile["rates_mhz"]}))


def _parse_rows(path, lines, numbers):
    """lines: the non-blank text rows; numbers: their line numbers in the file, for the error messages."""
    try:
        rows = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        raise RecordingError(_first_bad_row(path, lines, numbers)) from None
    if rows.shape[1] != 4:
        raise RecordingError(f"{path}: line {numbers[0]}: expected 4 columns t,x,y,z, found {rows.shape[1]}")
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        raise RecordingError(f"{path}: line {numbers[int(np.argmax(bad))]}: NaN or infinite value")
    return rows


def _first_bad_row(path, lines, numbers):
    """The message for the first row that is not four numbers (numpy's own names no line of the file)."""
    for line, number in zip(lines, numbers):
        cells = line.split(",")
        try:
            [float(c) for c in cells]
        except ValueError:
            return f"{path}: line {number}: '{line.strip()[:40]}' is not four numbers t,x,y,z"
        if len(cells) != 4:
            return f"{path}: line {number}: {len(cells)} values, expected 4 (t,x,y,z)"
    return f"{path}: line {numbers[0]}+: not four numbers per row"


def _decoded(path, raw, first_number):
    """The chunk's lines as text; a line that is not UTF-8 (a UTF-16 or binary file) makes the file bad."""
    lines = []
    for i, line in enumerate(raw):
        try:
            lines.append(line.decode())
        except UnicodeDecodeError:
            raise RecordingError(f"{path}: line {first_number + i}: not UTF-8 text (UTF-16 or binary?); "
                                 "save it as CSV (UTF-8)") from None
    return lines


def iter_rows(path, chunk_rows=None, gap_s=MAX_GAP_S):
    """Yield float64 arrays of shape (k, 4) with t, x, y, z, validated: header, finite, time increasing, no gap
    over gap_s (math.inf: gaps allowed, for a reader that splits the recording there)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        [first] = _decoded(path, [handle.readline()], 1)
        header = first.lstrip("\ufeff").strip().replace(" ", "").lower()  # Excel's "CSV UTF-8" starts with a BOM
        if not header:
            raise RecordingError(f"{path}: empty file (expected a header t,x,y,z)")
        if header.split(",") != ["t", "x", "y", "z"]:
            raise RecordingError(f"{path}: line 1: header is {header[:40]!r}, expected 't,x,y,z' (seconds, then g)")
        line_no = 2
        last_t = -math.inf
        while True:
            raw = _decoded(path, list(itertools.islice(handle, chunk_rows)), line_no)
            if not raw:
                return
            lines = [ln for ln in raw if ln.strip()]
            numbers = [line_no + i for i, ln in enumerate(raw) if ln.strip()]
            line_no += len(raw)
            if not lines:
                continue
            rows = _parse_rows(path, lines, numbers)
            t = rows[:, 0]
            steps = np.diff(t, prepend=last_t)
            if (steps <= 0).any():
                at = int(np.argmax(steps <= 0))
                raise RecordingError(f"{path}: line {numbers[at]}: time goes backwards or repeats "
                                     f"({t[at]:.6f} s after {t[at - 1] if at else last_t:.6f} s)")
            gaps = (steps > gap_s) & np.isfinite(steps)
            if gaps.any():
                at = int(np.argmax(gaps))
                raise RecordingError(f"{path}: line {numbers[at]}: no samples for {steps[at] / 3600:.1f} h "
                                     f"(at most {gap_s / 3600:g} h is interpolated); split the file at the gap")
            last_t = float(t[-1])
            yield rows


def probe_rate_hz(path):
    """Median input rate from the first chunk; errors if it is below what the detector can use."""
    rows = next(iter_rows(path, gap_s=math.inf), None)  # the rate only: a gap is the caller's to handle
    if rows is None or len(rows) < 2:
        raise RecordingError(f"{path}: no samples (need at least two rows after the header)")
    rate = 1.0 / float(np.median(np.diff(rows[:, 0])))
    if rate < MIN_RATE_HZ:
        raise RecordingError(f"{path}: sample rate {rate:.1f} Hz is below the {MIN_RATE_HZ:.0f} Hz minimum")
    return rate


def iter_counts(path, rate_mhz=50000, counts_per_g=4096, phase=0.0):
    """Yield int16 arrays of shape (k, 3): the recording as the IMU would deliver it at rate_mhz, its first
    sample `phase` sample periods after t = 0."""
    yield from _resampled(iter_rows(path), probe_rate_hz(path), rate_mhz, counts_per_g, phase)


def _resampled(chunks, input_rate_hz, rate_mhz, counts_per_g, phase):
    resampler = Resampler(rate_mhz, counts_per_g, input_rate_hz, phase)
    for rows in chunks:
        counts = resampler.push(rows)
        if len(counts):
            yield counts


def magnitude_only(counts):
    """int16 (k, 3) counts as a magnitude-only watch records them: x = |a| (rounded, clipped to int16), y = z = 0."""
    out = np.zeros_like(counts)
    out[:, 0] = np.minimum(np.rint(np.sqrt((counts.astype(np.int64) ** 2).sum(axis=1))), np.iinfo(np.int16).max)
    return out


def _csv_stretches(path):
    """(index, start_s, rows) of a CSV split where no sample comes for over MAX_GAP_S: the first stretch keeps the
    file's clock, each later one counts from its first sample, start_s on the file's clock."""
    index, start_s, last_t = 0, 0.0, None
    for rows in iter_rows(path, gap_s=math.inf):
        t = rows[:, 0]
        cuts = np.flatnonzero(np.diff(t, prepend=t[0] if last_t is None else last_t) > MAX_GAP_S)
        for a, b in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [len(rows)]))):
            if a in cuts:
                index, start_s = index + 1, float(t[a])
            if a < b:
                part = rows[a:b]
                yield index, start_s, part if index == 0 else np.column_stack((part[:, 0] - start_s, part[:, 1:]))
        last_t = float(t[-1])


def iter_segments(path, rate_mhz=50000, counts_per_g=4096, phase=0.0):
    """Yield (start_s, int16 chunks) per stretch of the recording without a gap, each consumed before the next:
    a CSV's first stretch has start_s None (no calendar time; later stretches after gaps of over MAX_GAP_S, their
    start on the file's clock); a research file (formats.py) one per stretch between gaps, start_s its first sample
    on the device's wall clock. Gaps stay gaps: nothing is interpolated."""
    if formats.kind(path) == "csv":
        input_rate_hz = probe_rate_hz(path)
        for index, stretch in itertools.groupby(_csv_stretches(path), key=lambda item: item[0]):
            _, start_s, rows = next(stretch)
            chunks = itertools.chain([rows], (more for _, _, more in stretch))
            yield None if index == 0 else start_s, _resampled(chunks, input_rate_hz, rate_mhz, counts_per_g, phase)
        return
    for _, stretch in itertools.groupby(formats.iter_segments(path), key=lambda item: item[0]):
        _, start_s, rows = next(stretch)
        input_rate_hz = (len(rows) - 1) / rows[-1, 0] if len(rows) > 1 else rate_mhz / 1000.0
        chunks = itertools.chain([rows], (more for _, _, more in stretch))
        yield start_s, _resampled(chunks, input_rate_hz, rate_mhz, counts_per_g, phase)


def too_short(path, rate_mhz):
    """The error for a recording that holds no whole sample at the device rate."""
    return RecordingError(f"{path}: shorter than one sample period at {rate_mhz / 1000:g} Hz")


def load_counts(path, rate_mhz=50000, counts_per_g=4096, phase=0.0):
    """The whole recording as one int16 (n, 3) array (for short recordings and tests)."""
    parts = list(iter_counts(path, rate_mhz, counts_per_g, phase))
    if not parts:
        raise too_short(path, rate_mhz)
    return np.concatenate(parts)


EXTENSIONS = (".csv", ".cwa", ".gt3x", ".bin")  # in folders; a file named alone is read by its content


def find_recordings(folders):
    """Every recording below the folders (sorted): NAME.csv, .cwa, .gt3x or .bin, any case."""
    found = []
    for folder in folders:
        if os.path.isfile(folder):
            found.append(folder)
            continue
        if not os.path.isdir(folder):
            raise RecordingError(f"{folder}: no such file or folder")
        for root, _dirs, files in os.walk(folder):
            found.extend(os.path.join(root, f) for f in files if f.lower().endswith(EXTENSIONS))
    return sorted(found)


def truth_path(recording_path):
    path = os.path.splitext(recording_path)[0] + ".truth.json"
    return path if os.path.exists(path) else None
