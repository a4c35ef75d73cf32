"""Readers of research accelerometer files, told apart by their first bytes: Axivity AX3/AX6 `.cwa` and ActiGraph
`.gt3x` decoded here, GENEActiv `.bin` through actfast (the `formats` extra). Each yields the recording as
(segment start, rows) with rows float64 (k, 4) of t, x, y, z in seconds from the segment's start and g; a segment
never spans a gap. Times are the device's wall clock (local time, no zone). Knows nothing of steps or days."""
import io
import struct
import warnings
import zipfile

import numpy as np

from . import cwa
from .errors import UserError

MAX_GAP_S = 1.0  # a hole this long between samples ends a segment: the resampler never bridges it
BLOCKS_PER_READ = 4096  # .cwa blocks decoded at a time: 2 MB of file, ~0.5 M samples

CWA_BLOCK = 512
_CWA_DATA = 30  # offset of a .cwa block's sample bytes
_CWA_CHECKED = np.dtype([("head", "<u2"), ("length", "<u2"), ("frac", "<u2"), ("session", "<u4"),
                         ("sequence", "<u4"), ("time", "<u4"), ("light", "<u2"), ("temperature", "<u2"),
                         ("events", "u1"), ("battery", "u1"), ("rate", "u1"), ("axes_bps", "u1"),
                         ("time_offset", "<i2"), ("count", "<u2")])


class FormatError(UserError, ValueError):
    """A file this module cannot read; the message names the file and what is wrong."""


def kind(path):
    """'cwa', 'gt3x', 'geneactiv' or 'csv' from the file's first bytes; FormatError for a known unsupported one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise FormatError(f"{path}: cannot open ({exc.strerror})") from None
    if head.startswith(b"MD"):
        return "cwa"
    if head.startswith(b"PK\x03\x04"):
        return "gt3x"
    if head.startswith(b"Device Identity"):
        return "geneactiv"
    if head.startswith(b"GENEA"):
        raise FormatError(f"{path}: old Genea .bin (before GENEActiv) is not supported; convert it to t,x,y,z CSV")
    return "csv"


def iter_segments(path):
    """Yield (segment index, start_s, rows) for a .cwa, .gt3x or GENEActiv .bin file: start_s is the segment's
    first sample on the device's wall clock in seconds since 1970, rows' t counts from it. Warns (RuntimeWarning)
    with the count of corrupt blocks skipped; FormatError for a file without samples."""
    reader = {"cwa": _cwa_rows, "gt3x": _gt3x_rows, "geneactiv": _geneactiv_rows}[kind(path)]
    any_rows = False
    for item in reader(path):
        any_rows = True
        yield item
    if not any_rows:
        raise FormatError(f"{path}: no accelerometer samples in this file")


class _Segments:
    """Turns absolute sample times (float64 seconds) into segments: a new one after a hole >= MAX_GAP_S or a
    step back in time."""

    def __init__(self):
        self.index = -1
        self.start_s = None
        self.last_s = None

    def split(self, rows):
        """Yield (index, start_s, rows) for consecutive float64 rows (k, 4) of t (absolute s), x, y, z (g): each
        piece a view of `rows` with t made to count from its segment's start."""
        if not len(rows):
            return
        t_s = rows[:, 0]
        steps = np.empty(len(t_s))
        steps[0] = t_s[0] - (-np.inf if self.last_s is None else self.last_s)
        np.subtract(t_s[1:], t_s[:-1], out=steps[1:])
        # the median period costs more than the rest together and only matters once a step is a hole's length
        shortest = steps[1:].min() if len(steps) > 1 else 0.0
        period = float(np.median(steps[1:])) if len(steps) > 1 and steps.max() >= shortest + MAX_GAP_S else shortest
        breaks = np.flatnonzero((steps >= period + MAX_GAP_S) | (steps <= 0))
        self.last_s = float(t_s[-1])
        for a, b in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(t_s)]))):
            if a == b:
                continue
            if a in breaks:
                self.index += 1
                self.start_s = float(t_s[a])
            t_s[a:b] -= self.start_s
            yield self.index, self.start_s, rows[a:b]


def _cwa_epoch_s(packed):
    """Seconds since 1970 of .cwa packed timestamps (YYYYYYMM MMDDDDDh hhhhmmmm mmssssss, year from 2000)."""
    packed = packed.astype(np.int64)
    months = ((packed >> 26) + 30) * 12 + ((packed >> 22) & 15) - 1
    days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + ((packed >> 17) & 31) - 1
    return days * 86400 + ((packed >> 12) & 31) * 3600 + ((packed >> 6) & 63) * 60 + (packed & 63)


def _cwa_rows(path):
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(struct.unpack("<H", head[2:4])[0] + 4)
        segments = _Segments()
        corrupt = 0
        held = None  # the last good block of the previous read: its samples' spacing needs the next block
        while True:
            raw = handle.read(CWA_BLOCK * BLOCKS_PER_READ)
            n_blocks = len(raw) // CWA_BLOCK
            blocks = np.frombuffer(raw, np.uint8, n_blocks * CWA_BLOCK).reshape(n_blocks, CWA_BLOCK)
            fields = blocks[:, :_CWA_DATA].copy().view(_CWA_CHECKED)[:, 0]
            good = (fields["head"] == 0x5841) & (fields["length"] == 508)
            checksum_ok = blocks.view("<u2").sum(axis=1, dtype=np.uint16) == 0
            corrupt += int((good & ~checksum_ok).sum())
            blocks, fields = blocks[good & checksum_ok], fields[good & checksum_ok]
            if held is not None:
                blocks, fields = np.concatenate((held[0], blocks)), np.concatenate((held[1], fields))
            last = n_blocks < BLOCKS_PER_READ
            if len(blocks):
                if not last:
                    held = (blocks[-1:], fields[-1:])
                yield from _cwa_decode(path, blocks, fields, segments, last)
            if last:
                break
    if corrupt:
        warnings.warn(f"{path}: skipped {corrupt} corrupt block(s) (bad checksum); their time is a gap",
                      RuntimeWarning, stacklevel=2)


def _cwa_decode(path, blocks, fields, segments, last):
    """Rows of every block but the last (all of them when `last`): sample i of block b at
    start[b] + i * (start[b + 1] - start[b]) / count[b] when the blocks are contiguous, else at the nominal rate."""
    rate_hz = 3200.0 / (1 << (15 - (fields["rate"].astype(np.int64) & 15)))
    frac = np.where(fields["frac"] & 0x8000, (fields["frac"].astype(np.int64) & 0x7FFF) << 1, 0)  # 1/65536 s
    # the fraction's whole samples were added to time_offset by old firmware: take them back out (cwa.h)
    offset = fields["time_offset"].astype(np.int64) + ((frac * rate_hz.astype(np.int64)) >> 16)
    start_s = _cwa_epoch_s(fields["time"]) + frac / 65536.0 - offset / rate_hz
    count = fields["count"].astype(np.int64)
    spacing = np.diff(start_s) / count[:-1]
    nominal = 1.0 / rate_hz[:-1]
    spacing = np.where(np.abs(spacing - nominal) < 0.05 * nominal, spacing, nominal)
    keep = len(blocks) if last else len(blocks) - 1
    if not keep:
        return
    spacing = np.concatenate((spacing, 1.0 / rate_hz[-1:]))[:keep]
    layout = fields["axes_bps"][:keep]
    if (layout != layout[0]).any():
        raise FormatError(f"{path}: a .cwa file that changes its sample layout mid-recording is not supported")
    if layout[0] & 15 and layout[0] >> 4 < 3:
        raise FormatError(f"{path}: .cwa blocks of {layout[0] >> 4} axes: no accelerometer x, y, z in them")
    # AX6 blocks hold the gyroscope first; the accelerometer's counts per g sit in the light word's top bits
    counts_per_g = (1 << (8 + ((fields["light"][:keep] >> 13) & 7))).astype(np.float64)
    rows = cwa.block_rows(blocks[:keep], start_s[:keep], spacing, count[:keep].astype(np.int32), counts_per_g,
                          int(layout[0]) >> 4, layout[0] & 15 == 0)
    yield from segments.split(rows)


GT3X_ACTIVITY = 0x00  # 12-bit y, x, z packed big-endian
GT3X_ACTIVITY2 = 0x1A  # int16 little-endian x, y, z (ActiGraph Link)
_GT3X_RECORD = struct.Struct("<BBIH")  # separator 0x1E, type, timestamp (local s), payload size


def _gt3x_info(archive, path):
    names = archive.namelist()
    if "log.bin" not in names:
        raise FormatError(f"{path}: old GT3X+ format (activity.bin, no log.bin) is not supported; "
                          "convert it with ActiLife to .gt3x or CSV")
    info = dict(line.split(":", 1) for line in archive.read("info.txt").decode("utf-8-sig").splitlines()
                if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    return float(info.get("Sample Rate", "0")), float(info.get("Acceleration Scale", "256").replace(",", "."))


def _gt3x_samples(kind, payload):
    """(n, 3) x, y, z counts of one activity record."""
    if kind == GT3X_ACTIVITY2:
        return np.frombuffer(payload, "<i2", len(payload) // 6 * 3).reshape(-1, 3)
    raw = np.frombuffer(payload, np.uint8, len(payload) // 3 * 3).reshape(-1, 3).astype(np.int32)
    twelve = np.stack(((raw[:, 0] << 4) | (raw[:, 1] >> 4), ((raw[:, 1] & 15) << 8) | raw[:, 2]), axis=1)
    values = ((twelve.reshape(-1) ^ 0x800) - 0x800)[: len(payload) * 8 // 36 * 3]
    yxz = values.reshape(-1, 3)
    return yxz[:, [1, 0, 2]]


def _gt3x_joined(times, parts, counts_per_g):
    """(n, 4) rows of t (absolute s), x, y, z (g) of the records gathered so far."""
    return np.column_stack((np.concatenate(times), np.concatenate(parts) / counts_per_g))


def _gt3x_rows(path):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"{path}: a zip file but not a readable .gt3x ({exc})") from None
    with archive:
        rate_hz, counts_per_g = _gt3x_info(archive, path)
        if rate_hz <= 0:
            raise FormatError(f"{path}: info.txt has no Sample Rate")
        segments = _Segments()
        corrupt = 0
        with archive.open("log.bin") as raw_log:
            log = io.BufferedReader(raw_log, 1 << 20)
            times, parts = [], []
            while True:
                head = log.read(_GT3X_RECORD.size)
                if len(head) < _GT3X_RECORD.size:
                    break
                separator, kind, second, size = _GT3X_RECORD.unpack(head)
                body = log.read(size + 1)
                if separator != 0x1E or len(body) < size + 1:
                    corrupt += 1
                    break  # records have no sync marker to find the next one by
                if kind not in (GT3X_ACTIVITY, GT3X_ACTIVITY2) or size < 6:
                    continue  # other sensors; an empty activity record is idle sleep: a gap
                checksum = 0
                for byte in head + body[:-1]:
                    checksum ^= byte
                if (~checksum & 0xFF) != body[-1]:
                    corrupt += 1
                    continue
                xyz = _gt3x_samples(kind, body[:-1])
                times.append(second + np.arange(len(xyz)) / rate_hz)
                parts.append(xyz)
                if len(parts) >= 3600:
                    yield from segments.split(_gt3x_joined(times, parts, counts_per_g))
                    times, parts = [], []
            if parts:
                yield from segments.split(_gt3x_joined(times, parts, counts_per_g))
    if corrupt:
        warnings.warn(f"{path}: skipped {corrupt} corrupt record(s) (bad checksum or truncated)",
                      RuntimeWarning, stacklevel=2)


def _geneactiv_rows(path):
    try:
        import actfast
    except ImportError:
        raise FormatError(f"{path}: reading GENEActiv .bin needs actfast; pip install 'walkdose[formats]'") from None
    try:
        data = actfast.read(path, lenient=True)
    except (ValueError, OSError) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if data["warnings"]:
        warnings.warn(f"{path}: {'; '.join(data['warnings'])}", RuntimeWarning, stacklevel=2)
    series = data["timeseries"].get("high_frequency", {})
    if "acceleration" not in series:
        return
    yield from _Segments().split(np.column_stack((series["datetime"] / 1e9, series["acceleration"])))
