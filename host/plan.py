"""`walkdose plan`: a progressive daily walking target, WalkBack-style (Pocovi et al., Lancet 2024:
build up to ~30 min x 5 days/week, individualised): from the baseline week, the target rises by a
weekly step up to the goal. Holds the plan arithmetic; never writes anything but the plan settings."""
import datetime
import time

from . import dayrules, db, dboptions, localtime
from .errors import UserError

DEFAULT_GOAL_MIN = 100  # HUNT: >= 101 min/day walking had the lowest risk of chronic low back pain
DEFAULT_STEP_MIN = 10
BASELINE_VALID_DAYS = 4  # a week counts as baseline once this many of its days were valid
WEEK = datetime.timedelta(days=7)


def _parsed(goal_min, step_min, start):
    return goal_min, step_min, datetime.date.fromisoformat(start) if start else None


def settings(conn):
    """(goal_min, step_min, start date or None): as last set, else the defaults."""
    saved = db.load_plan(conn)
    return _parsed(*saved) if saved else (DEFAULT_GOAL_MIN, DEFAULT_STEP_MIN, None)


def settings_by_date(conn):
    """[(from date, settings)], oldest first: the settings each day since from date was planned with. A past day
    keeps the target it had (and the board cued) when the plan changes later."""
    changes = db.plan_changes(conn)
    if not changes:
        return [(datetime.date.min, settings(conn))]
    return [(datetime.date.fromisoformat(since), _parsed(*rest)) for since, *rest in changes]


def weeks(conn, zone, today, device_id=None, read_after_baseline=True, chosen=None):
    """The plan week by week from its start (set, or the first day with data) to the week the
    target reaches the goal or today's week, whichever is later: dicts with week (0 = first),
    first_date, target_min (None until the baseline week is over), valid_days, mean_walking_min
    (over valid days, None without any) and baseline (True for the baseline week). Targets need
    no day after the baseline week: read_after_baseline=False skips reading them (their weeks
    then show 0 valid days). chosen: the settings to plan with, else the current ones."""
    goal_min, step_min, start = chosen or settings(conn)
    start = start or db.first_date(conn, zone, device_id)
    if start is None:
        return []
    today_week = max(0, (today - start).days // 7)
    plan = []
    baseline_min = baseline_week = None
    week = 0
    while week <= today_week or (baseline_min is not None and plan[-1]["target_min"] != goal_min):
        first = start + WEEK * week
        valid = []
        if week <= today_week and (read_after_baseline or baseline_min is None):
            rows = db.days(conn, zone, first, first + WEEK - datetime.timedelta(days=1), device_id)
            valid = [r["walking_min"] for r in rows if r["valid"]]
        mean = round(sum(valid) / len(valid), 1) if valid else None
        target = None
        if baseline_min is not None:
            target = min(goal_min, round(baseline_min) + step_min * (week - baseline_week))
        is_baseline = baseline_min is None and len(valid) >= BASELINE_VALID_DAYS
        if is_baseline:
            baseline_min, baseline_week = mean, week
        plan.append({"week": week, "first_date": first.isoformat(), "target_min": target,
                     "valid_days": len(valid), "mean_walking_min": mean, "baseline": is_baseline})
        week += 1
    return plan


def targets(conn, zone, today, device_id=None):
    """A function of a date giving (target_min, plan week or None): the plan's target once past
    the baseline week, else the goal; each date under the settings it was planned with."""
    plans = [(since, chosen[0], weeks(conn, zone, today, device_id, read_after_baseline=False, chosen=chosen))
             for since, chosen in settings_by_date(conn)]

    def target_on(date):
        _, goal_min, plan = [p for p in plans if p[0] <= date][-1] if date >= plans[0][0] else plans[0]
        index = _week_of(plan, date)
        if index is not None and plan[index]["target_min"] is not None:
            return plan[index]["target_min"], index
        return goal_min, None

    return target_on


def _week_of(plan, date):
    """Index of the plan week holding date, or None."""
    if not plan:
        return None
    index = (date - datetime.date.fromisoformat(plan[0]["first_date"])).days // 7
    return index if 0 <= index < len(plan) else None


def configure(parser):
    dboptions.add_arguments(parser)
    parser.add_argument("--goal", type=int, metavar="MIN",
                        help=f"daily walking goal in minutes (default {DEFAULT_GOAL_MIN})")
    parser.add_argument("--step", type=int, metavar="MIN",
                        help=f"how much the daily target rises each week, minutes; 0 keeps it flat at the goal "
                             f"(default {DEFAULT_STEP_MIN})")
    parser.add_argument("--start", metavar="DATE",
                        help="first day of week 0, YYYY-MM-DD, or 'none' for the default: the first day with data")


def chosen_settings(args, current):
    """The settings args ask for, the current ones where they ask nothing."""
    goal_min, step_min, start = current
    for name, value, low in (("--goal", args.goal, 1), ("--step", args.step, 0)):
        if value is not None and not low <= value <= 600:
            raise UserError(f"{name} {value}: give minutes per day between {low} and 600")
    if args.start is not None:
        try:
            start = None if args.start.lower() == "none" else datetime.date.fromisoformat(args.start)
        except ValueError:
            raise UserError(f"--start {args.start}: not a date; write it as YYYY-MM-DD (or 'none')")
    return (goal_min if args.goal is None else args.goal, step_min if args.step is None else args.step, start)


def describe_change(before, after, today):
    """One line saying what a plan change changed and from when."""
    def start_text(start):
        return start.isoformat() if start else "the first day with data"
    changed = [f"{name} {show(old)} -> {show(new)}" for name, old, new, show in (
        ("goal", before[0], after[0], lambda m: f"{m} min/day"), ("step", before[1], after[1], lambda m: f"+{m} min/day"),
        ("start", before[2], after[2], start_text)) if old != new]
    if not changed:
        return "Plan unchanged."
    return f"Plan changed: {', '.join(changed)}; from today ({today.isoformat()}) on, earlier days keep their targets."


def run(args):
    changing = args.goal is not None or args.step is not None or args.start is not None
    with db.opened(args.db, readonly=not changing) as conn:
        device_id = dboptions.device_of(conn, args)
        zone = localtime.local_zone()
        today = localtime.local_date(time.time(), zone)
        if changing:
            before = settings(conn)
            after = chosen_settings(args, before)
            if after != before:
                goal_min, step_min, start = after
                db.save_plan(conn, goal_min, step_min, start.isoformat() if start else None, today.isoformat(),
                             (before[0], before[1], before[2].isoformat() if before[2] else None))
            print(describe_change(before, after, today))
        print(format_plan(conn, zone, today, device_id))
    return 0


def format_plan(conn, zone, today, device_id=None):
    goal_min, step_min, start = settings(conn)
    lines = [f"Plan: goal {goal_min} walking min/day, +{step_min} min/day each week from the baseline week "
             f"(the first with >= {BASELINE_VALID_DAYS} days {dayrules.VALID_RULE})"]
    plan = weeks(conn, zone, today, device_id)
    if not plan:
        lines.append("No data yet: sync the device (walkdose sync); the plan starts from the first day with data.")
        return "\n".join(lines)
    lines.append("week  from        target  valid days  mean walking min (valid days)")
    this_week = _week_of(plan, today)
    for week in plan:
        target = "baseline" if week["baseline"] else "-" if week["target_min"] is None else f"{week['target_min']:d}"
        mean = "-" if week["mean_walking_min"] is None else f"{week['mean_walking_min']:.1f}"
        here = "  <- this week" if week["week"] == this_week else ""
        lines.append(f"{week['week']:4d}  {week['first_date']}  {target:>8s}  {week['valid_days']:10d}  "
                     f"{mean:>8s}{here}")
    return "\n".join(lines)
