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


def settings(conn):
    """(goal_min, step_min, start date or None): as last set, else the defaults."""
    saved = db.load_plan(conn)
    if not saved:
        return DEFAULT_GOAL_MIN, DEFAULT_STEP_MIN, None
    goal_min, step_min, start = saved
    return goal_min, step_min, datetime.date.fromisoformat(start) if start else None


def weeks(conn, zone, today, device_id=None, read_after_baseline=True):
    """The plan week by week from its start (set, or the first day with data) to the week the
    target reaches the goal or today's week, whichever is later: dicts with week (0 = first),
    first_date, target_min (None until the baseline week is over), valid_days, mean_walking_min
    (over valid days, None without any) and baseline (True for the baseline week). Targets need
    no day after the baseline week: read_after_baseline=False skips reading them (their weeks
    then show 0 valid days)."""
    goal_min, step_min, start = settings(conn)
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
    the baseline week, else the goal."""
    plan = weeks(conn, zone, today, device_id, read_after_baseline=False)
    goal_min = settings(conn)[0]

    def target_on(date):
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
                        help=f"how much the daily target rises each week, minutes (default {DEFAULT_STEP_MIN})")
    parser.add_argument("--start", metavar="DATE",
                        help="first day of week 0, YYYY-MM-DD (default: the first day with data)")


def run(args):
    conn = db.open_db(args.db)
    device_id = dboptions.device_of(conn, args)
    goal_min, step_min, start = settings(conn)
    if args.goal is not None or args.step is not None or args.start is not None:
        for name, value in (("--goal", args.goal), ("--step", args.step)):
            if value is not None and not 0 < value <= 600:
                raise UserError(f"{name} {value}: give minutes per day between 1 and 600")
        if args.start is not None:
            try:
                start = datetime.date.fromisoformat(args.start)
            except ValueError:
                raise UserError(f"--start {args.start}: not a date; write it as YYYY-MM-DD")
        db.save_plan(conn, args.goal or goal_min, args.step or step_min, start.isoformat() if start else None)
    zone = localtime.local_zone()
    print(format_plan(conn, zone, localtime.local_date(time.time(), zone), device_id))
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
