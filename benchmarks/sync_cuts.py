"""A sync cut at every byte offset of a full session, then resumed: the firmware Link and DayStore
in-process (tests/link_harness.py), the host client and database, and a cable that dies after N
bytes. Prints one JSON object; tests/test_sync.py runs the same sweep on one core.

    python benchmarks/sync_cuts.py [--jobs N] [--every K]
"""
import argparse
import json
import multiprocessing
import os
import pathlib
import sqlite3
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]
os.environ["TZ"] = "Europe/Oslo"
time.tzset()

from link_harness import Cable, cut_sweep, database_rows, sync_over, week_of_walking  # noqa: E402


def reference(workdir):
    """(template board, rows of a clean sync's database, bytes a clean session moves)."""
    template = week_of_walking(workdir / "template")
    clean = Cable(template.clone(workdir / "clean"))
    assert sync_over(clean, workdir / "clean.sqlite") is None
    conn = sqlite3.connect(str(workdir / "clean.sqlite"))
    rows = database_rows(conn)
    conn.close()
    return template, rows, clean.crossed


def sweep_part(args):
    """Offsets start, start + step, ... below end; returns (offsets run, offsets whose database differs)."""
    start, end, step = args
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as folder:
        workdir = pathlib.Path(folder)
        template, rows, _ = reference(workdir)
        run, differ = 0, []
        for offset, error, got in cut_sweep(template, workdir, range(start, end, step)):
            run += 1
            if got != rows:
                differ.append(offset)
        return run, differ


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--every", type=int, default=1, help="cut at every K-th byte (default every byte)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _, rows, session_bytes = reference(pathlib.Path(folder))
    started = time.monotonic()
    step = args.every * args.jobs
    parts = [(args.every * j, session_bytes + 1, step) for j in range(args.jobs)]
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(sweep_part, parts)
    differ = sorted(o for _, d in results for o in d)
    print(json.dumps({"session_bytes": session_bytes, "records": len(rows["records"]),
                      "cuts": sum(r for r, _ in results), "databases_differing": len(differ),
                      "first_differing_offsets": differ[:20], "seconds": round(time.monotonic() - started, 1)}))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
