"""Mutation testing of the integrity-critical modules with mutmut's mutation operators (mutmut 2.5.1, BSD-3-Clause,
`pip install -e '.[mutation]'`). Each mutant is written over the module in place and tested in a process forked from
one that has already imported pytest, hypothesis and numpy (a mutant costs its tests, not a Python start), against
the tests that called the mutated function in a clean run; a mutant of a module-level constant against the tests
of the functions that read it and, if it survives those, every test file listed for the module; a mutant no test
was seen reaching against every listed file. A test that reaches a function only through a subprocess is not
seen, so the score can only err low.
Run nothing else in this checkout meanwhile; the module is restored after each mutant, on Ctrl-C and on SIGTERM.
Prints each survivor as a diff, then one JSON object: mutants, killed, survived, timed out, score and seconds per
mutant for each module.

    python benchmarks/mutation.py [MODULE ...] [--lines A-B]     (default: every module in TESTS; minutes each)

--lines A-B plants only the mutants on lines A to B (1-based, inclusive): to finish a stopped run or re-check a
list of survivors.
"""
import ast
import difflib
import json
import os
import pathlib
import signal
import sys
import tempfile
import time

import hypothesis  # noqa: F401  imported once here, not once per mutant
import numpy  # noqa: F401
import pytest
import serial  # noqa: F401
from mutmut import Context, list_mutations, mutate

ROOT = pathlib.Path(__file__).resolve().parent.parent

# module -> the test files that exercise it, fast ones: the slow sweeps (MicroPython-driven runs, the sync cut at
# every byte, Dask, plots) are deselected by DESELECT.
TESTS = {
    "firmware/clock.py": ["tests/test_clock_edges.py", "tests/test_clock.py", "tests/test_integrity.py"],
    "firmware/store.py": ["tests/test_integrity.py", "tests/test_store_format.py", "tests/test_store_day.py",
                          "tests/test_rules_boundaries.py"],
    "firmware/link.py": ["tests/test_integrity.py", "tests/test_protocol.py", "tests/test_sync_hostile.py",
                         "tests/test_protocol_fuzz.py"],
    "host/protocol.py": ["tests/test_integrity.py", "tests/test_protocol.py", "tests/test_sync_hostile.py",
                         "tests/test_protocol_fuzz.py"],
    "host/sync.py": ["tests/test_sync.py", "tests/test_integrity.py", "tests/test_sync_hostile.py",
                     "tests/test_sensor_health.py"],
    "host/db.py": ["tests/test_integrity.py", "tests/test_db.py", "tests/test_db_safety.py", "tests/test_plan.py",
                   "tests/test_sync.py", "tests/test_sensor_health.py"],
    "host/placement.py": ["tests/test_db.py", "tests/test_integrity.py"],
    "host/dayrules.py": ["tests/test_rules_boundaries.py", "tests/test_report.py", "tests/test_db.py",
                         "tests/test_export.py", "tests/test_days.py"],
}
DESELECT = "not micropython and not cut_at_any_byte and not dask and not plot"
PYTEST = ["-q", "-p", "no:cacheprovider", "-k", DESELECT]


class Calls:
    """A pytest plugin recording, per test, the first lines of the functions it ran in one file."""

    def __init__(self, filename):
        self.filename = filename
        self.test = None
        self.called = {}  # nodeid -> {co_firstlineno}
        self.seconds = {}  # nodeid -> its run's duration, traced

    def trace(self, frame, event, arg):
        if frame.f_code.co_filename == self.filename and self.test:
            self.called.setdefault(self.test, set()).add(frame.f_code.co_firstlineno)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item):
        self.test = item.nodeid
        start = time.monotonic()
        sys.setprofile(self.trace)
        yield
        sys.setprofile(None)
        self.seconds[item.nodeid] = time.monotonic() - start
        self.test = None


def in_child(run, timeout_s):
    """run() -> int in a forked child with its output discarded; its exit status, or None past timeout_s."""
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            status = int(run())
        except BaseException:  # a mutant that breaks pytest itself is still a failing run
            status = 3
        os._exit(status)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def callers(module):
    """({function's first line: [nodeid], fastest first}, {nodeid: seconds}) of a clean run of the module's tests."""
    calls = Calls(str(ROOT / module))
    with tempfile.NamedTemporaryFile("r") as out:
        def run():
            status = pytest.main(PYTEST + TESTS[module], plugins=[calls])
            json.dump([calls.seconds, {line: sorted((t for t, lines in calls.called.items() if line in lines),
                                                    key=calls.seconds.get)
                                       for line in set().union(*calls.called.values())}], open(out.name, "w"))
            return status
        if in_child(run, 1200) != 0:
            sys.exit(f"mutation.py: {module}: its tests fail before any mutant ({' '.join(TESTS[module])})")
        seconds, called = json.load(out)
        return {int(line): tests for line, tests in called.items()}, seconds


def functions(source):
    """[(first line, body's first line, last line, names it reads)] of every function, innermost last when nested."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            spans.append((first, node.body[0].lineno, node.end_lineno, names))
    return sorted(spans, key=lambda span: span[:3])


def module_level_names(source):
    """{line: names assigned by the module-level statement spanning it}."""
    names = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            assigned = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            for line in range(node.lineno, node.end_lineno + 1):
                names[line] = assigned
    return names


def tests_of_line(line, spans, assigned, called, seconds):
    """The tests that ran the function holding LINE (1-based), or for a module-level constant every function
    reading it; None when no test is known to run it (then every test file of the module runs)."""
    holder = None
    for first, body, last, _ in spans:
        if body <= line <= last:
            holder = first
    if holder is not None:
        return called.get(holder) or None
    readers = {first for first, _, _, names in spans if names & assigned.get(line, set())}
    tests = []
    for test in sorted((test for first in readers for test in called.get(first, [])), key=seconds.get):
        if test not in tests:
            tests.append(test)
    return tests or None


def mutate_module(module, lines):
    """{mutants, killed, survived, timed out, score, s per mutant} of the mutants on LINES (a range); survivors
    printed as diffs."""
    path = ROOT / module
    source = path.read_text()
    called, seconds = callers(module)
    everything_s = sum(seconds.values())
    spans = functions(source)
    assigned = module_level_names(source)
    counts = {"mutants": 0, "killed": 0, "survived": 0, "timed out": 0}
    start = time.monotonic()
    try:
        ids = [mutation_id for mutation_id in list_mutations(Context(source=source, filename=str(path)))
               if mutation_id.line_number + 1 in lines]
        for mutation_id in ids:
            mutant, _ = mutate(Context(source=source, filename=str(path), mutation_id=mutation_id))
            path.write_text(mutant)
            line = mutation_id.line_number + 1
            selected = tests_of_line(line, spans, assigned, called, seconds)
            # a hung mutant times out at twice its tests' traced time (tracing slows them) and 10 s
            timeout_s = 10 + 2 * (sum(seconds[test] for test in selected) if selected else everything_s)
            status = in_child(lambda: pytest.main(["-x"] + PYTEST + (selected or TESTS[module])), timeout_s)
            public = any(not name.startswith("_") for name in assigned.get(line, ()))
            if status == 0 and selected and public:  # another module may read a public constant
                status = in_child(lambda: pytest.main(["-x"] + PYTEST + TESTS[module]), 10 + 2 * everything_s)
            counts["mutants"] += 1
            if counts["mutants"] % 50 == 0:
                print(f"{module}: {counts['mutants']} of {len(ids)} mutants", file=sys.stderr, flush=True)
            if status is None:
                counts["timed out"] += 1
            elif status == 0:
                counts["survived"] += 1
                diff = difflib.unified_diff(source.splitlines(), mutant.splitlines(), module, module, n=0, lineterm="")
                print("\n".join(list(diff)[2:]), flush=True)
            else:
                counts["killed"] += 1
    finally:
        path.write_text(source)
    n = counts["mutants"]
    counts["score"] = round((n - counts["survived"]) / n, 3) if n else None
    counts["s per mutant"] = round((time.monotonic() - start) / n, 2) if n else None
    return counts


def main():
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("mutation.py: stopped; the module is restored"))
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # a same-size mutant written in the same second would load a stale .pyc
    sys.dont_write_bytecode = True
    args = sys.argv[1:]
    lines = range(1, sys.maxsize)
    if "--lines" in args:
        at = args.index("--lines")
        first, _, last = (args[at + 1:at + 2] or [""])[0].partition("-")
        if not (first.isdigit() and last.isdigit() and int(first) <= int(last)):
            sys.exit("mutation.py: --lines takes A-B, two line numbers with A <= B")
        lines = range(int(first), int(last) + 1)
        del args[at:at + 2]
    modules = args or list(TESTS)
    for module in modules:
        if module not in TESTS:
            sys.exit(f"mutation.py: {module}: not one of {', '.join(TESTS)}")
    scores = {}
    for module in modules:
        for cached in (ROOT / module).parent.glob(f"__pycache__/{pathlib.Path(module).stem}.*.pyc"):
            cached.unlink()
        scores[module] = mutate_module(module, lines)
        print(json.dumps({module: scores[module]}), flush=True)
    print(json.dumps(scores, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
