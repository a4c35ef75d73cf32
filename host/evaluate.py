"""Accuracy of a replay against a truth file, and the per-dataset/placement table. Pure functions over
replay results and truth dicts; knows nothing of how the detector works."""
import math

STEP_MATCH_S = 0.3
STILL_BELOW_SPM = 30  # a recording whose true cadence is below this is 'still or mixed'


def match_steps(found, truth, tolerance=STEP_MATCH_S):
    """One-to-one matches between two sorted lists of step times within +/-tolerance (greedy in time)."""
    matched = 0
    i = j = 0
    while i < len(found) and j < len(truth):
        if found[i] < truth[j] - tolerance:
            i += 1
        elif found[i] > truth[j] + tolerance:
            j += 1
        else:
            matched += 1
            i += 1
            j += 1
    return matched


def f1_score(found, truth):
    if not found and not truth:
        return 1.0
    matched = match_steps(found, truth)
    return 2.0 * matched / (len(found) + len(truth))


def walking_seconds(segments):
    return sum(end - start for start, end in segments)


def check_truth(truth):
    """The problem with a truth dict (its field and why), or None: scores must never come from impossible truth."""
    if not isinstance(truth, dict):
        return "not a JSON object"
    duration_s = truth.get("duration_s")
    if not _number(duration_s) or duration_s <= 0:
        return f"duration_s {duration_s!r}: need seconds > 0"
    steps = truth.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 0):
        return f"steps {steps!r}: need a whole number >= 0 or null"
    step_times = truth.get("step_times")
    if step_times is not None and (not isinstance(step_times, list) or not all(_number(t) for t in step_times)
                                   or step_times != sorted(step_times)):
        return "step_times: need a sorted list of seconds or null"
    walking = truth.get("walking")
    if walking is not None and (not isinstance(walking, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(_number(t) for t in w) and 0 <= w[0] <= w[1] <= duration_s
            for w in walking)):
        return "walking: need a list of [start_s, end_s] within the duration, or null"
    for name in ("dataset", "placement"):
        if not isinstance(truth.get(name, ""), str):
            return f"{name}: need a string"
    return None


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def score(result, truth):
    """Metrics for one recording. Keys present only where the truth allows them."""
    duration_s = float(truth["duration_s"])
    row = {"dataset": truth.get("dataset", "?"), "placement": canonical_placement(truth.get("placement", "?")),
           "duration_s": duration_s, "found_steps": result["steps"], "found_walking_s": result["walking_s"]}
    true_steps = truth.get("steps")
    if true_steps is not None:
        row["true_steps"] = true_steps
        cadence = true_steps * 60.0 / duration_s
        if cadence >= STILL_BELOW_SPM:
            row["step_error_pct"] = 100.0 * (result["steps"] - true_steps) / true_steps
        else:
            row["wrong_steps"] = abs(result["steps"] - true_steps)
    if truth.get("step_times"):
        row["f1"] = f1_score(result["step_times"], truth["step_times"])
    walking = truth.get("walking")
    if walking is not None:
        true_walk = walking_seconds(walking)
        if true_walk > 0:
            row["walk_error_pct"] = 100.0 * (result["walking_s"] - true_walk) / true_walk
        else:
            row["walking_fraction_pct"] = 100.0 * result["walking_s"] / duration_s
    return row


def canonical_placement(placement):
    """Case variants in the sources ('phone:ArmBand', 'phone:Armband') are one placement."""
    kind, _, where = placement.partition(":")
    return f"{kind}:{where.lower()}" if where else kind


def _mean(values):
    return sum(values) / len(values) if values else None


def summarise(rows):
    """Aggregate rows: step MAPE, mean F1, walking-time MAPE, wrong steps per hour, non-walking time %."""
    errors = [abs(r["step_error_pct"]) for r in rows if "step_error_pct" in r]
    still = [r for r in rows if "wrong_steps" in r]
    still_hours = sum(r["duration_s"] for r in still) / 3600.0
    quiet = [r for r in rows if "walking_fraction_pct" in r]
    quiet_s = sum(r["duration_s"] for r in quiet)
    return {
        "files": len(rows),
        "walks": len(errors),
        "step_mape_pct": _mean(errors),
        "step_bias_pct": _mean([r["step_error_pct"] for r in rows if "step_error_pct" in r]),
        "f1": _mean([r["f1"] for r in rows if "f1" in r]),
        "walk_time_mape_pct": _mean([abs(r["walk_error_pct"]) for r in rows if "walk_error_pct" in r]),
        "still_hours": still_hours if still else None,
        "wrong_steps_per_hour": sum(r["wrong_steps"] for r in still) / still_hours if still else None,
        "non_walking_time_pct": (sum(r["found_walking_s"] for r in quiet) * 100.0 / quiet_s) if quiet else None,
    }


def table(rows):
    """Groups: (dataset, placement), then each dataset, then all. Returns [(dataset, placement, summary)]."""
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["placement"]), []).append(r)
    out = []
    for dataset in sorted({d for d, _ in groups}):
        places = sorted(p for d, p in groups if d == dataset)
        for place in places:
            out.append((dataset, place, summarise(groups[(dataset, place)])))
        if len(places) > 1:
            out.append((dataset, "all", summarise([r for r in rows if r["dataset"] == dataset])))
    out.append(("all", "all", summarise(rows)))
    return out


def mean_table(row_sets):
    """table() of each set of rows (the same recordings at different sampling phases), averaged entry by entry;
    an entry missing in any set stays None."""
    tables = [table(rows) for rows in row_sets]
    out = []
    for entries in zip(*tables):
        dataset, placement, first = entries[0]
        mean = {}
        for key, value in first.items():
            values = [summary[key] for _, _, summary in entries]
            if any(v is None for v in values):
                mean[key] = None
            else:
                mean[key] = value if values.count(value) == len(values) else sum(values) / len(values)
        out.append((dataset, placement, mean))
    return out


# The metrics whose worst dataset the eval names: (key, the worse end, its label).
WORST_OF = (("step_mape_pct", max, "step MAPE %"), ("step_bias_pct", lambda v: max(v, key=abs), "bias %"),
            ("walk_time_mape_pct", max, "walk-time err %"), ("wrong_steps_per_hour", max, "wrong steps/h"),
            ("non_walking_time_pct", max, "non-walk time %"), ("f1", min, "F1"))


def worst(summary_rows):
    """{key: (value, dataset)} of the worst dataset for each metric over table() rows: a change is judged by its
    worst dataset, not the mean."""
    per_dataset = {}
    for dataset, place, s in summary_rows:
        if dataset != "all" and (place == "all" or dataset not in per_dataset):
            per_dataset[dataset] = s
    out = {}
    for key, pick, _ in WORST_OF:
        values = {dataset: s[key] for dataset, s in per_dataset.items() if s[key] is not None}
        if values:
            value = pick(values.values())
            out[key] = (value, next(d for d, v in values.items() if v == value))
    return out


def format_worst(summary_rows):
    """One line: the worst dataset for each metric."""
    found = worst(summary_rows)
    digits = {"f1": 3, "non_walking_time_pct": 2}  # as the table shows them
    return "worst: " + ", ".join(f"{label} {_fmt(found[key][0], digits.get(key, 1))} ({found[key][1]})"
                                 for key, _, label in WORST_OF if key in found)


def format_table(summary_rows):
    head = ("dataset", "placement", "files", "step MAPE %", "bias %", "F1", "walk-time err %",
            "wrong steps/h", "non-walk time %")
    lines = [head]
    for dataset, place, s in summary_rows:
        lines.append((dataset, place, str(s["files"]), _fmt(s["step_mape_pct"]), _fmt(s["step_bias_pct"]),
                      _fmt(s["f1"], 3), _fmt(s["walk_time_mape_pct"]), _fmt(s["wrong_steps_per_hour"]),
                      _fmt(s["non_walking_time_pct"], 2)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    text.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(text)


def _fmt(value, digits=1):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"
