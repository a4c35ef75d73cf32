"""Every rule of the detector switched off alone and scored with and without it: docs/detector.md ("Each rule with and
without") holds the results. Research only, measures and prints a markdown table.

    python benchmarks/ablation.py ../shared/data/public [--rates 12.5,25,50,100] [--phases 4] [--rules NAME,...]

Each rule is switched off by one edit of firmware/detector.py's source, as SWITCHES lists: a constant set so the rule
never fires, or a condition made false. The edited source is compiled into a module of its own and replayed by the
interpreted engine as `walkdose eval --engine python --json` replays (every engine gives the same results); the working
tree and the installed package are never touched. An edit that no longer matches the source stops the run. Per rule:
the first rate's metrics without it (the change against the unedited detector), and the metrics it moves by more than
a margin (0.1 point; 2 wrong steps/h on espruino, 10 on rieck; 0.05 points on hmp) at half the rates or more.
About 2 minutes a rule at four rates and four phases on two cores.
"""
import argparse
import contextlib
import io
import json
import multiprocessing
import os
import re
import sys
import types

import walkdose.firmware.detector as spec
from walkdose import eval_command, replay
from walkdose.errors import UserError


def const(name, value):
    """The edit setting a constant: `NAME = const(...)` becomes `NAME = const(value)`."""
    return (re.compile(rf"^{name} = const\(-?\d+\)", re.M), f"{name} = const({value})")


SWITCHES = {
    "spike stream (SPIKE_MG 30000)": [const("SPIKE_MG", 30000)],
    "weak spikes (SPIKE_LOW_MG 100)": [const("SPIKE_LOW_MG", 100)],
    "busy limit (BUSY_EIGHTHS 8)": [const("BUSY_EIGHTHS", 8)],
    "2 s spike steps (SPIKE_MAX_MS 1500)": [const("SPIKE_MAX_MS", 1500)],
    "spike handback (SPIKE_FAST_EIGHTHS 0)": [const("SPIKE_FAST_EIGHTHS", 0)],
    "arm peak passed over in a spike run": [("            if d < p:\n                return 0  # early",
                                             "            if False:\n                return 0  # early")],
    "missing strike bridged in a spike run": [("            if n < N_CONFIRM_SLOW - 1 and p * DOUBLE_FROM_EIGHTHS",
                                               "            if False and n < N_CONFIRM_SLOW - 1 and p * DOUBLE_FROM_EIGHTHS")],
    "spike run spanning arm work": [(" or self.arm_at >= spk[0]:", ":")],
    "3-trough resume (N_RESUME 5)": [const("N_RESUME", 5)],
    "resume's sideways wait": [("and not self.side_over(ARM_EIGHTHS) else N_CONFIRM", "else N_CONFIRM")],
    "slow confirmation (N_CONFIRM_SLOW 5)": [const("N_CONFIRM_SLOW", 5)],
    "hidden step (DOUBLE_FROM_EIGHTHS 200)": [const("DOUBLE_FROM_EIGHTHS", 200)],
    "back-fill (BACKFILL_MIN 100)": [const("BACKFILL_MIN", 100)],
    "first step (FIRST_DEPTH_EIGHTHS 1000)": [const("FIRST_DEPTH_EIGHTHS", 1000)],
    "arm work: sideways and turning (TURN_MIN_MG 100000)": [const("TURN_MIN_MG", 100000)],
    "arm work: brushing (TURN_HIGH_MG 100000)": [const("TURN_HIGH_MG", 100000)],
    "arm work: circling (TURN_WIDE_MG 100000)": [const("TURN_WIDE_MG", 100000)],
    "vehicle wander (WANDER_EIGHTHS 1000)": [const("WANDER_EIGHTHS", 1000)],
    "flat wait (FLAT_SIDE_MG 0)": [const("FLAT_SIDE_MG", 0)],
    "posture wait (POSTURE_MG 100000)": [const("POSTURE_MG", 100000)],
    "turn trial (TRIAL_TURN_MG 100000)": [const("TRIAL_TURN_MG", 100000)],
    "erratic trial (ERRATIC_EIGHTHS 8)": [const("ERRATIC_EIGHTHS", 8)],
    "stride split (STRIDE_SIDE_MG 100000)": [const("STRIDE_SIDE_MG", 100000)],
    "alternation (STRIDE_REGULAR_EIGHTHS -1)": [const("STRIDE_REGULAR_EIGHTHS", -1)],
}

# (dataset, metric, column, margin): a rule serves a column where the metric is worse without it by over the margin.
METRICS = (("espruino-wrist", "step_mape_pct", "espruino walks", 0.1),
           ("espruino-wrist", "wrong_steps_per_hour", "espruino still/mixed", 2.0),
           ("hmp-wrist", "non_walking_time_pct", "hmp", 0.05),
           ("oxford-phone", "step_mape_pct", "oxford", 0.1),
           ("rieck-wrist-magnitude", "step_mape_pct", "rieck walks", 0.1),
           ("rieck-wrist-magnitude", "wrong_steps_per_hour", "rieck still", 10.0),
           ("truong-lowerback", "step_mape_pct", "truong", 0.1),
           ("truong-lowerback", "walk_time_mape_pct", "truong time", 0.1))


def edited_module(edits):
    """The detector compiled from its source with `edits` applied, each of which must match exactly once."""
    with open(spec.__file__, encoding="utf-8") as fh:
        source = fh.read()
    for old, new in edits:
        if isinstance(old, str):
            count = source.count(old)
            source = source.replace(old, new)
        else:
            source, count = old.subn(new, source)
        if count != 1:
            raise SystemExit(f"ablation.py: an edit matches firmware/detector.py {count} times, not once: {new!r}")
    module = types.ModuleType("walkdose.firmware.detector_edited")
    module.__package__ = "walkdose.firmware"
    exec(compile(source, spec.__file__, "exec"), module.__dict__)
    return module


def scored(module, folders, rate, phases):
    """{column: value} of `walkdose eval --engine python --json` with the module as the detector."""
    parser = argparse.ArgumentParser()
    eval_command.configure(parser)
    args = parser.parse_args([*folders, "--engine", "python", "--rate", rate, "--phases", str(phases), "--json", "--quiet"])
    out = io.StringIO()
    replay.spec, original = module, replay.spec  # the pool's workers are forked with it
    try:
        with contextlib.redirect_stdout(out):
            eval_command.run(args)
    finally:
        replay.spec = original
    table = json.loads(out.getvalue())["table"]
    values = {}
    for row in table:
        if row["dataset"] == "oxford-phone" and row["placement"] != "all":
            continue
        for dataset, key, column, _ in METRICS:
            if row["dataset"] == dataset and row.get(key) is not None:
                values[column] = row[key]
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--rates", default="50,25,12.5,100", help="device rates in Hz; the first one's values are printed")
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--rules", help="comma-separated names (or the start of names) from SWITCHES; default all")
    args = parser.parse_args()
    rates = [rate.strip() for rate in args.rates.split(",")]
    for rate in rates:
        try:
            float(rate)
        except ValueError:
            raise UserError(f"--rates {args.rates}: need device rates in Hz, such as 50,25") from None
    names = list(SWITCHES)
    if args.rules:
        wanted = [w.strip() for w in args.rules.split(",")]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
        if not names:
            raise UserError(f"--rules {args.rules}: no such rule (see SWITCHES in {__file__})")
    multiprocessing.set_start_method("fork", force=True)
    base = {rate: scored(spec, args.folders, rate, args.phases) for rate in rates}
    columns = [column for _, _, column, _ in METRICS if column in base[rates[0]]]
    print(f"{rates[0]} Hz, --phases {args.phases}; serves/costs at >= half of {', '.join(rates)} Hz")
    print("| rule switched off | " + " | ".join(columns) + " | serves | costs |")
    print("|---" * (len(columns) + 3) + "|")
    print("| none | " + " | ".join(f"{base[rates[0]][c]:.2f}" for c in columns) + " | | |")
    margin = {column: m for _, _, column, m in METRICS}
    for name in names:
        module = edited_module(SWITCHES[name])
        now = {rate: scored(module, args.folders, rate, args.phases) for rate in rates}
        cells = []
        for c in columns:
            change = now[rates[0]][c] - base[rates[0]][c]
            cells.append(f"{now[rates[0]][c]:.2f}" + (f" ({change:+.2f})" if abs(change) >= 0.005 else ""))
        need = (len(rates) + 1) // 2
        serves = [c for c in columns if sum(now[r][c] - base[r][c] > margin[c] for r in rates) >= need]
        costs = [c for c in columns if sum(base[r][c] - now[r][c] > margin[c] for r in rates) >= need]
        print(f"| {name} | " + " | ".join(cells) + f" | {', '.join(serves) or '-'} | {', '.join(costs) or '-'} |",
              flush=True)


if __name__ == "__main__":
    os.nice(5)
    try:
        main()
    except UserError as error:
        print(f"ablation.py: {error}", file=sys.stderr)
        sys.exit(2)
