"""`walkdose bench`: how fast the compiled detector replays a week, what the firmware detector costs a board
(MicroPython instructions and heap bytes per sample: x86 under callgrind, Cortex-M4 on the emulated board of
walkdose.qemu), and how fast `walkdose days` summarises a week's AX3 .cwa against actfast's read of it. Also the
home of the synthetic week it replays and of the .cwa week built from a real file's blocks."""
import importlib.resources
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import argtypes, commands, formats, qemu, recording, replay

SEED = 20240607
STAGES = ("synthetic week", "compiled replay", "micropython", "Cortex-M4", ".cwa week")
CALLGRIND_SAMPLES = 12000  # 4 minutes at 50 Hz: walking, stillness and a minute rollover
ALLOC_SAMPLES = 30000
XIAO_RATE_MHZ = 52000  # the board whose nRF52840 the Cortex-M4 figures stand for
STILL_S = 600
CWA_RATE_HZ = 98.8  # a real AX3's "100 Hz" (98.4-99.0 Hz measured from block timestamps)
CWA_START_S = 1717200000  # 2024-06-01 00:00 on the device's clock


def synthetic_chunks(days, rate_mhz=50000, counts_per_g=4096, seed=SEED):
    """A deterministic wearer, one int16 (k, 3) chunk per activity (see activity()). Starts with a walk so short
    slices hold steps."""
    rng = np.random.default_rng(seed)
    rate_hz = rate_mhz / 1000.0
    total = int(days * 86400 * rate_hz)
    made = 0
    kind = "walk"
    while made < total:
        n = min(total - made, int(rng.uniform(20, 600) * rate_hz))
        yield activity(rng, kind, n, rate_hz, counts_per_g)
        made += n
        kind = rng.choice(["walk", "still", "still", "fidget"])


def activity(rng, kind, n, rate_hz, counts_per_g):
    """n int16 samples of one activity: still (sitting, asleep; the wrist at rest in a random pose), walk (90-130
    steps/min, 0.15-0.6 g vertical bounce, a half-cadence arm swing, sensor noise) or fidget (broadband bursts)."""
    t = np.arange(n) / rate_hz
    down = rng.normal(size=3)
    down /= np.linalg.norm(down)
    g = np.tile(down, (n, 1))
    if kind == "walk":
        step_hz = rng.uniform(90, 130) / 60.0
        bounce = rng.uniform(0.15, 0.6)
        phase = rng.uniform(0, 2 * math.pi)
        swing_axis = np.cross(down, rng.normal(size=3))
        swing_axis /= np.linalg.norm(swing_axis)
        g += np.outer(bounce * np.sin(2 * math.pi * step_hz * t + phase), down)
        g += np.outer(0.5 * bounce * np.sin(math.pi * step_hz * t + phase), swing_axis)
        g += rng.normal(scale=0.03, size=(n, 3))
    elif kind == "fidget":
        g += rng.normal(scale=rng.uniform(0.05, 0.4), size=(n, 3))
    else:
        g += rng.normal(scale=0.004, size=(n, 3))
    return np.clip(np.rint(g * counts_per_g), -32768, 32767).astype(np.int16)


def micropython_feed(raw_path, rate_mhz, counts_per_g, mode, valgrind=None):
    """sim/replay_driver.py in `mode` on a raw int16 file: (the integers it printed, callgrind instructions or
    None). Count instructions in `locked` mode only: `alloc` mode's gc.mem_alloc() walks the whole heap and
    would add thousands of instructions per sample that a board never spends."""
    root = replay.firmware_root()
    driver = os.path.join(root, "sim", "replay_driver.py")
    command = [commands.find("micropython"), driver, raw_path, str(rate_mhz), str(counts_per_g), mode]
    with tempfile.TemporaryDirectory() as tmp:
        out_file = os.path.join(tmp, "callgrind.out")
        if valgrind:
            command = [valgrind, "--tool=callgrind", "--callgrind-out-file=" + out_file] + command
        done = subprocess.run(command, capture_output=True, text=True, env=counted_env(root))
        if done.returncode != 0:
            raise RuntimeError(f"micropython feed failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        printed = [int(word) for word in done.stdout.split()]
        instructions = None
        if valgrind:
            with open(out_file) as f:
                instructions = next(int(line.split()[1]) for line in f if line.startswith("summary:"))
    return printed, instructions


def counted_env(root):
    """The environment for counting micropython's instructions with MICROPYPATH at root. The command is CPython running
    MicroPython as an extension, and CPython's random string hash seed moves its start-up from run to run: a fixed
    seed makes the start-up the empty run subtracts the same every run (docs/detector.md)."""
    return dict(os.environ, MICROPYPATH=root, PYTHONHASHSEED="0")


def cortex_m4_costs(source, slices, counts_per_g):
    """{name: Cortex-M4 instructions per sample} of sim/replay_driver.py's locked mode on the emulated board, for
    each (name, samples, rate_mhz) of `slices`: guest instructions (-icount) less those of the same run on no
    samples, with the firmware's .mpy files as `walkdose flash` builds them for the XIAO."""
    firmware = qemu.build(source)
    with tempfile.TemporaryDirectory() as rom:
        qemu.stage(rom, {"sim/replay_driver.py": os.path.join(replay.firmware_root(), "sim", "replay_driver.py")})
        write_raw(os.path.join(rom, "empty.i16"), np.zeros((0, 3), dtype=np.int16))
        for name, samples, _ in slices:
            write_raw(os.path.join(rom, name + ".i16"), samples)
        with qemu.Board(firmware, rom) as board:
            board.run("import firmware.detector\n")  # imported once, as on a board: not part of either run
            costs = {}
            for name, samples, rate_mhz in slices:
                def instructions(path):
                    return board.instructions(qemu.script("/rom/sim/replay_driver.py",
                                                          [path, rate_mhz, counts_per_g, "locked"]))
                printed, with_samples = instructions(f"/rom/{name}.i16")
                _, start_up = instructions("/rom/empty.i16")
                costs[name] = round((with_samples - start_up) / int(printed.split()[0]))
    return costs


def shipped_walks(rate_mhz, counts_per_g):
    """The shipped recordings (walks) one after the other, as int16 counts at rate_mhz."""
    folder = importlib.resources.files("walkdose.recordings")
    return np.concatenate([recording.load_counts(str(folder / name), rate_mhz, counts_per_g)
                           for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".csv"))])


def write_raw(path, samples):
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def check_cwa_source(source):
    """FormatError (one line) unless `source` is an AX3/AX6 .cwa by its content: checked before any stage runs."""
    if formats.kind(source) != "cwa":
        raise formats.FormatError(f"{source}: not an AX3/AX6 .cwa (its first bytes are not 'MD'); --cwa needs one")


def cwa_week(source, path, days):
    """Write `days` days of a real .cwa's data blocks to `path`, back to back at CWA_RATE_HZ after its header, with
    rewritten sequence numbers, timestamps and checksums; the number of samples written."""
    with open(source, "rb") as handle:
        raw = handle.read()
    header_bytes = int.from_bytes(raw[2:4], "little") + 4
    blocks = np.frombuffer(raw[header_bytes:], np.uint8, len(raw[header_bytes:]) // 512 * 512).reshape(-1, 512)
    if not len(blocks):
        raise formats.FormatError(f"{source}: a .cwa header and no data blocks: nothing to build the week from")
    per_block = int(blocks[0, 28:30].view("<u2")[0])
    n_blocks = int(days * 86400 * CWA_RATE_HZ) // per_block
    start_s = CWA_START_S + np.arange(n_blocks) * per_block / CWA_RATE_HZ
    whole = np.floor(start_s).astype(np.int64)
    frac16 = np.floor((start_s - whole) * 65536).astype(np.int64) & 0xFFFE
    date = np.array(whole, dtype="datetime64[s]").astype("datetime64[D]")
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


def measured(setup, statement):
    """Run setup, then statement, which sets `out` to a dict, in a fresh interpreter: that dict plus the
    statement's wall and CPU seconds and the interpreter's peak resident memory in MB (Linux's VmHWM, which, unlike
    ru_maxrss, does not start from the forking parent's size)."""
    code = "\n".join([
        f"import json, time\n{setup}\nwall, cpu = time.perf_counter(), time.process_time()\n{statement}",
        "out.update(s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)",
        "status = open('/proc/self/status').read().split('VmHWM:')[1]",
        "out['peak_mb'] = round(int(status.split()[0]) / 1024)",
        "print(json.dumps(out))"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def cwa_days(source, days, rate_mhz):
    """`walkdose days` (cohort.file_days) on a .cwa week built from source's blocks, one process, against actfast's
    read alone of the same file in the same run, each in its own interpreter for its peak memory. Rates are of CPU
    time: one core's, however busy the machine."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "week.cwa")
        samples = cwa_week(source, path, days)
        summary = measured("from walkdose import cohort", f"out = cohort.file_days({path!r}, {rate_mhz}, 'cython', 600)")
        if "error" in summary:
            raise RuntimeError(f"walkdose days failed on the .cwa week: {summary['error']}")
        out = {"cwa_samples": samples, "cwa_days_s": round(summary["s"], 2),
               "cwa_days_cpu_s": round(summary["cpu_s"], 2),
               "cwa_days_samples_per_s": round(samples / summary["cpu_s"]), "cwa_days_peak_mb": summary["peak_mb"]}
        if importlib.util.find_spec("actfast") is None:
            return {**out, "actfast_read_s": None, "actfast_reason": "actfast not installed (walkdose[formats])"}
        read = measured("import actfast", f"actfast.read({path!r})\nout = {{}}")
    return {**out, "actfast_read_s": round(read["s"], 2), "actfast_read_cpu_s": round(read["cpu_s"], 2),
            "actfast_peak_mb": read["peak_mb"],
            "cwa_days_over_actfast_read": round(summary["cpu_s"] / read["cpu_s"], 2)}


def bench(days=7, rate_mhz=50000, quick=False, qemu_source=None, cwa_source=None, on_stage=lambda name: None):
    """Measure the engines on the synthetic week (one day with quick=True). Keys ending in _per_s or
    _per_sample are the results; micropython_instr_per_sample is None with a reason if valgrind is absent, the
    cortex_m4 ones without qemu_source (a MicroPython tree for walkdose.qemu), the cwa ones without cwa_source (an
    AX3 .cwa whose blocks make the week). on_stage(name) is called as each of STAGES begins."""
    if cwa_source is not None:
        check_cwa_source(cwa_source)
    if quick:
        days = 1
    counts_per_g = 4096
    on_stage(STAGES[0])
    samples = np.concatenate(list(synthetic_chunks(days, rate_mhz, counts_per_g)))
    n = len(samples)

    on_stage(STAGES[1])
    began = time.perf_counter()
    result = replay.run("cython", [samples], rate_mhz, counts_per_g)
    cython_s = time.perf_counter() - began
    began = time.perf_counter()
    np.abs(samples).sum(axis=0)
    numpy_s = time.perf_counter() - began

    out = {
        "days": days,
        "rate_mhz": rate_mhz,
        "samples": n,
        "steps": result["steps"],
        "walking_s": result["walking_s"],
        "cython_s": round(cython_s, 3),
        "cython_samples_per_s": round(n / cython_s),
        "numpy_pass_s": round(numpy_s, 3),
        "numpy_pass_ratio": round(cython_s / numpy_s, 2),
    }

    with tempfile.TemporaryDirectory() as tmp:
        slice_path = os.path.join(tmp, "slice.i16")
        empty_path = os.path.join(tmp, "empty.i16")
        write_raw(empty_path, samples[:0])
        write_raw(slice_path, samples[:ALLOC_SAMPLES])
        on_stage(STAGES[2])
        (alloc, fed), _ = micropython_feed(slice_path, rate_mhz, counts_per_g, "alloc")
        out["micropython_bytes_per_sample"] = alloc / fed
        valgrind = shutil.which("valgrind")
        if valgrind is None:
            out["micropython_instr_per_sample"] = None
            out["micropython_instr_reason"] = "valgrind not found on PATH (apt-get install valgrind)"
        else:
            write_raw(slice_path, samples[:CALLGRIND_SAMPLES])
            (fed, _, _), with_samples = micropython_feed(slice_path, rate_mhz, counts_per_g, "locked", valgrind)
            _, start_up = micropython_feed(empty_path, rate_mhz, counts_per_g, "locked", valgrind)
            out["micropython_instr_per_sample"] = round((with_samples - start_up) / fed)
            out["micropython_callgrind_samples"] = fed
    if qemu_source is None:
        out["cortex_m4_instr_per_sample"] = None
        out["cortex_m4_instr_reason"] = "give --qemu SOURCE, a MicroPython source tree (see `walkdose qemu`)"
    else:
        on_stage(STAGES[3])
        out.update(cortex_m4(samples, rate_mhz, counts_per_g, qemu_source))
    if cwa_source is None:
        out["cwa_days_samples_per_s"] = None
        out["cwa_reason"] = "give --cwa FILE, an AX3 .cwa whose blocks make the week"
    else:
        on_stage(STAGES[4])
        out.update(cwa_days(cwa_source, days, rate_mhz))
    return out


def cortex_m4(samples, rate_mhz, counts_per_g, qemu_source):
    """The Cortex-M4 instructions per sample of bench's slice, the shipped walks and stillness."""
    still = activity(np.random.default_rng(SEED), "still", STILL_S * XIAO_RATE_MHZ // 1000, XIAO_RATE_MHZ / 1000.0,
                     counts_per_g)
    costs = cortex_m4_costs(qemu_source, [("slice", samples[:CALLGRIND_SAMPLES], rate_mhz),
                                          ("walking", shipped_walks(XIAO_RATE_MHZ, counts_per_g), XIAO_RATE_MHZ),
                                          ("still", still, XIAO_RATE_MHZ)], counts_per_g)
    return {"cortex_m4_instr_per_sample": costs["slice"],  # the samples callgrind counted
            "cortex_m4_walking_instr_per_sample": costs["walking"],  # the shipped walks
            "cortex_m4_still_instr_per_sample": costs["still"]}


# What each key of bench()'s result means, for the text output; --json prints the keys themselves.
LABELS = {
    "days": "synthetic recording, days",
    "rate_mhz": "sample rate",
    "samples": "samples",
    "steps": "steps counted",
    "walking_s": "walking, s",
    "cython_s": "compiled replay, s",
    "cython_samples_per_s": "compiled replay, samples/s (one core)",
    "numpy_pass_s": "numpy pass over the same array, s",
    "numpy_pass_ratio": "compiled replay time / numpy pass time",
    "micropython_bytes_per_sample": "micropython: heap bytes allocated per sample",
    "micropython_instr_per_sample": "micropython: x86 instructions per sample",
    "micropython_instr_reason": "micropython: instructions not measured because",
    "micropython_callgrind_samples": "micropython: samples under callgrind",
    "cortex_m4_instr_per_sample": "Cortex-M4 (QEMU): instructions per sample, same samples",
    "cortex_m4_instr_reason": "Cortex-M4 (QEMU): not measured because",
    "cortex_m4_walking_instr_per_sample": "Cortex-M4 (QEMU): instructions per sample, shipped walks at 52 Hz",
    "cortex_m4_still_instr_per_sample": "Cortex-M4 (QEMU): instructions per sample, still at 52 Hz",
    "cwa_samples": ".cwa week at 98.8 Hz: samples",
    "cwa_days_s": ".cwa week: walkdose days end to end, s",
    "cwa_days_cpu_s": ".cwa week: walkdose days, CPU s",
    "cwa_days_samples_per_s": ".cwa week: walkdose days, samples per CPU s",
    "cwa_days_peak_mb": ".cwa week: walkdose days, peak memory, MB",
    "cwa_reason": ".cwa week: not measured because",
    "actfast_read_s": ".cwa week: actfast's read alone, s",
    "actfast_read_cpu_s": ".cwa week: actfast's read alone, CPU s",
    "actfast_peak_mb": ".cwa week: actfast's read alone, peak memory, MB",
    "actfast_reason": ".cwa week: actfast's read not measured because",
    "cwa_days_over_actfast_read": ".cwa week: days CPU time / actfast read CPU time",
}


def configure(parser):
    parser.add_argument("--days", type=argtypes.whole(1), default=7, help="length of the synthetic recording (default 7)")
    parser.add_argument("--quick", action="store_true", help="one day: a smoke run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--qemu", metavar="SOURCE", help="a MicroPython source tree (or tarball) to build the emulated "
                                                         "Cortex-M4F board from, for the cortex_m4 figures")
    parser.add_argument("--cwa", metavar="FILE", help="an AX3 .cwa whose blocks, repeated with new timestamps, make "
                                                      "a --days long .cwa for `walkdose days` (e.g. GGIRread's "
                                                      "ax3_testfile.cwa)")
    replay.add_quiet(parser)


def run(args):
    with replay.progress(None, len(STAGES), unit="stage", quiet=args.quiet) as bar:
        def on_stage(name):
            bar.set_description(name)
            bar.update()
        result = bench(days=args.days, quick=args.quick, qemu_source=args.qemu, cwa_source=args.cwa,
                       on_stage=on_stage)
    if args.json:
        print(json.dumps(result))
        return 0
    for key, value in result.items():
        label = LABELS.get(key, key)
        if key == "rate_mhz":
            value = f"{value / 1000:g} Hz"
        elif isinstance(value, float):
            value = f"{value:,.3f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        print(f"{label:52s} {value}")
    return 0
