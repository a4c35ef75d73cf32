"""Mutation testing of the integrity-critical modules with mutmut (BSD-3-Clause, `pip install -e '.[mutation]'`):
each module's mutants run against only the test files that cover it, one module at a time. mutmut edits the
file in place while a mutant runs, so run nothing else in this checkout meanwhile. Prints one JSON object:
killed, survived and timed out per module; `mutmut show ID` prints a survivor's diff.

    python benchmarks/mutation.py [MODULE ...]     (default: every module in TESTS; minutes to hours)
"""
import json
import os
import pathlib
import sqlite3
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# module -> the test files that exercise it (the slow MicroPython and whole-sync sweeps left out)
TESTS = {
    "firmware/clock.py": ["tests/test_clock.py", "tests/test_clock_edges.py", "tests/test_integrity.py"],
    "firmware/store.py": ["tests/test_store_day.py", "tests/test_store_format.py", "tests/test_integrity.py"],
    "firmware/link.py": ["tests/test_protocol.py", "tests/test_integrity.py"],
    "host/protocol.py": ["tests/test_protocol.py", "tests/test_integrity.py"],
    "host/sync.py": ["tests/test_sync.py"],
    "host/db.py": ["tests/test_db.py", "tests/test_integrity.py"],
    "host/placement.py": ["tests/test_db.py"],
    "host/dayrules.py": ["tests/test_rules_boundaries.py", "tests/test_report.py"],
}
STATUSES = {"ok_killed": "killed", "bad_survived": "survived", "bad_timeout": "timed out",
            "ok_suspicious": "killed", "skipped": "skipped", "untested": "untested"}


def mutate(module):
    tests = " ".join(TESTS[module])
    # -x: a mutant is killed at its first failing test; the micropython-driving tests are deselected.
    # mutmut 2 counts only exit status 1 as a kill: a mutant that breaks collection (status 2) is one too.
    pytest = f"{sys.executable} -m pytest -x -q -p no:cacheprovider -k 'not micropython' {tests}"
    runner = f'sh -c "{pytest} || exit 1"'
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--paths-to-mutate", module, "--runner", runner,
                    "--no-progress", "--simple-output"], cwd=ROOT, check=False)


def scores():
    """{module: {status: count, "score": killed share}} from mutmut's cache."""
    conn = sqlite3.connect(ROOT / ".mutmut-cache")
    counts = {}
    for filename, status, n in conn.execute(
            "SELECT SourceFile.filename, Mutant.status, COUNT(*) FROM Mutant JOIN Line ON Mutant.line = Line.id "
            "JOIN SourceFile ON Line.sourcefile = SourceFile.id GROUP BY 1, 2"):
        module = counts.setdefault(os.path.relpath(ROOT / filename, ROOT), {})
        module[STATUSES[status]] = module.get(STATUSES[status], 0) + n
    for module in counts.values():
        tested = module.get("killed", 0) + module.get("survived", 0) + module.get("timed out", 0)
        module["score"] = round((tested - module.get("survived", 0)) / tested, 3) if tested else None
    return counts


def main():
    for module in sys.argv[1:] or TESTS:
        if module not in TESTS:
            sys.exit(f"mutation.py: {module}: not one of {', '.join(TESTS)}")
        mutate(module)
    print(json.dumps(scores(), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
