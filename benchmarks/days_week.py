"""A week of AX3 data through `walkdose days`, end to end on one core: speed and peak memory, against actfast's
read of the same file alone. The week is the real blocks of a shipped AX3 file (GGIRread's ax3_testfile.cwa,
Apache-2.0) repeated with rewritten sequence numbers, timestamps and checksums.

    python benchmarks/days_week.py [--days 7] [--keep /tmp/week.cwa]

Prints one JSON object; the README's "With research recordings" section quotes it."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "data", "formats", "ax3_testfile.cwa")
RATE_HZ = 98.8  # a real AX3's "100 Hz" (98.4-99.0 Hz measured from block timestamps)
START_S = 1717200000  # 2024-06-01 00:00 on the device's clock


def build_week(source, path, days):
    """Write `days` days of the source's data blocks, back to back at RATE_HZ, after its header."""
    with open(source, "rb") as handle:
        raw = handle.read()
    header_bytes = int.from_bytes(raw[2:4], "little") + 4
    blocks = np.frombuffer(raw[header_bytes:], np.uint8).reshape(-1, 512)
    per_block = int(blocks[0, 28:30].view("<u2")[0])
    n_blocks = int(days * 86400 * RATE_HZ) // per_block
    start_s = START_S + np.arange(n_blocks) * per_block / RATE_HZ
    whole = np.floor(start_s).astype(np.int64)
    frac16 = np.floor((start_s - whole) * 65536).astype(np.int64) & 0xFFFE
    stamp = np.array(whole, dtype="datetime64[s]")
    date = stamp.astype("datetime64[D]")
    year = date.astype("datetime64[Y]").astype(np.int64) + 1970
    month = date.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (date - date.astype("datetime64[M]")).astype(np.int64) + 1
    seconds = whole % 86400
    packed = ((year - 2000) << 26) | (month << 22) | (day << 17) | ((seconds // 3600) << 12) | (
        (seconds // 60 % 60) << 6) | (seconds % 60)
    with open(path, "wb") as out:
        out.write(raw[:header_bytes])
        for first in range(0, n_blocks, 65536):
            part = slice(first, min(n_blocks, first + 65536))
            week = blocks[np.arange(part.start, part.stop) % len(blocks)].copy()
            words = week.view("<u2")
            week[:, 10:14] = np.arange(part.start, part.stop, dtype="<u4")[:, None].view(np.uint8)
            week[:, 14:18] = packed[part].astype("<u4")[:, None].view(np.uint8)
            words[:, 2] = 0x8000 | (frac16[part] >> 1)
            # time_offset cancels the whole samples the reader adds for the fraction: sample 0 is at the stamp
            words[:, 13] = (-((frac16[part] * 100) >> 16)).astype("<i2").view("<u2")
            words[:, 255] = 0
            words[:, 255] = (-words.sum(axis=1, dtype=np.uint16)).astype(np.uint16)
            out.write(week.tobytes())
    return n_blocks * per_block


def measure(code):
    """Run code, which sets `out` to a dict, in a fresh interpreter: that dict plus its peak resident memory."""
    code += ("\nimport json, resource\nout['peak_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
             "\nprint(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--keep", help="write the week here and keep it (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or os.path.join(tmp, "week.cwa")
        samples = build_week(SOURCE, path, args.days)
        days = measure(
            "import time\nfrom walkdose import cohort\nt = time.perf_counter()\n"
            f"r = cohort.file_days({path!r}, 50000, 'cython', 600)\n"
            "out = {'s': time.perf_counter() - t, 'days': len(r.get('days', [])), 'error': r.get('error')}")
        read = measure(
            "import time, actfast\nt = time.perf_counter()\n"
            f"n = len(actfast.read({path!r})['timeseries']['high_frequency']['acceleration'])\n"
            "out = {'s': time.perf_counter() - t, 'samples': n}")
    print(json.dumps({
        "samples": samples, "file_mb": round(os.path.getsize(path) / 2**20) if args.keep else None,
        "days_s": round(days["s"], 2), "days_samples_per_s": round(samples / days["s"]),
        "days_peak_mb": days["peak_mb"], "calendar_days": days["days"], "error": days["error"],
        "actfast_read_s": round(read["s"], 2), "actfast_samples": read["samples"],
        "actfast_peak_mb": read["peak_mb"], "days_over_actfast_read": round(days["s"] / read["s"], 2)}))


if __name__ == "__main__":
    main()
