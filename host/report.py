"""`walkdose report`: daily walking minutes from the database against HUNT's bands and the day's
target, as text, one JSON object or a PNG. Reads the database, never writes it."""
import datetime
import json
import time

from . import argtypes, dayrules, db, dboptions, localtime, plan
from .errors import UserError

DEFAULT_DAYS = 28


def build(conn, zone, today, n_days=DEFAULT_DAYS, device_id=None):
    """The report as `--json` prints it: {"days": [...], "summary": {...}} for the n_days ending today, from
    the first recorded day on (a new wearer's report does not open with weeks of zeros)."""
    first = today - datetime.timedelta(days=n_days - 1)
    recorded_from = db.first_date(conn, zone, device_id)
    if recorded_from is not None and first < recorded_from <= today:
        first = recorded_from
    days = db.days(conn, zone, first, today, device_id)
    for day in days:
        day["complete"] = day["date"] != today.isoformat()  # today enters means and bands once it is over
    mean_of_valid = dayrules.mean_of_valid([d for d in days if d["complete"]])
    target_on = plan.targets(conn, zone, today, device_id)
    target_min, plan_week = target_on(today)
    for day in days:
        day["target_min"] = target_on(datetime.date.fromisoformat(day["date"]))[0]
    walked = days[-1]["walking_min"] or 0.0
    weeks = {}
    for day in days:
        if day["valid"] and day["complete"]:
            year, week, _ = datetime.date.fromisoformat(day["date"]).isocalendar()
            weeks.setdefault(f"{year}-W{week:02d}", []).append(day["walking_min"])
    summary = {
        "first_date": days[0]["date"], "last_date": days[-1]["date"], "device": device_id or "all",
        **mean_of_valid,
        "today": {"date": today.isoformat(), "walking_min": walked, "target_min": target_min, "plan_week": plan_week,
                  "left_min": round(max(0.0, target_min - walked), 1)},
        "weeks": [{"week": week, "valid_days": len(minutes), "mean_walking_min": round(sum(minutes) / len(minutes), 1)}
                  for week, minutes in sorted(weeks.items())],
        "losses": db.losses(conn, device_id),
        "sensor_health": db.sensor_totals(conn, device_id),
        "estimates": db.estimates(conn, device_id),
        "quarantined": db.quarantined(conn, device_id),
    }
    return {"days": days, "summary": summary}


def format_text(report):
    summary = report["summary"]
    lines = [f"walkdose report {summary['first_date']} .. {summary['last_date']}, "
             f"{'all devices combined' if summary['device'] == 'all' else 'device ' + summary['device']}",
             "date        walk min   steps  slow  mod brisk   MET  bouts longest  worn h  valid  target"]
    for d in report["days"]:
        if not d["recorded_min"]:
            lines.append(f"{d['date']}  {'no data':>8s}{'':>71s}{d['target_min']:6d}")
            continue
        met = "-" if d["met_index"] is None else f"{d['met_index']:.2f}"
        longest = f"{d['longest_bout_s'] // 60:d}:{d['longest_bout_s'] % 60:02d}"
        lines.append(f"{d['date']}  {d['walking_min']:8.1f}  {d['steps']:6d}  {d['pace_min']['slow']:4d} "
                     f"{d['pace_min']['moderate']:4d}  {d['pace_min']['brisk']:4d}  {met:>4s}  {d['bouts']:5d}  "
                     f"{longest:>6s}  {d['worn_min'] / 60:6.1f}  {'yes' if d['valid'] else 'no':>5s}  "
                     f"{d['target_min']:6d}{'  (time estimated)' if d['estimated'] else ''}"
                     f"{'  (today: not in the mean until it is over)' if not d['complete'] else ''}")
    if not any(d["recorded_min"] for d in report["days"]):
        lines.append("Nothing recorded in these days: `walkdose sync` fetches the device's days.")
    if summary["valid_days"]:
        band = summary["band"]
        lines.append(f"Mean {summary['mean_walking_min']:.1f} walking min/day over {summary['valid_days']} valid "
                     f"days ({dayrules.VALID_RULE}, today not counted).")
        lines.append(f"HUNT band {band['range']} min/day: risk ratio {band['risk_ratio']:.2f} against < 78 min/day.")
    else:
        lines.append(f"No complete valid day ({dayrules.VALID_RULE}) in these days: no mean and no HUNT band.")
    today = summary["today"]
    week = f", plan week {today['plan_week']}" if today["plan_week"] is not None else ""
    if not report["days"][-1]["recorded_min"]:
        lines.append(f"Today {today['date']}: no data yet (target {today['target_min']} min{week}).")
    else:
        lines.append(f"Today {today['date']}: {today['walking_min']:.1f} of {today['target_min']} min{week}; "
                     + (f"{today['left_min']:.1f} min left." if today["left_min"] else "target reached."))
    if summary["weeks"]:
        lines.append("Weekly mean over valid days: " + ", ".join(
            f"{w['week']} {w['mean_walking_min']:.1f} ({w['valid_days']} d)" for w in summary["weeks"]))
    for loss in summary["losses"]:
        counts = {k: loss[k] for k in ("lost_detail", "lost_summary", "quarantined", "failed_writes") if loss[k]}
        if counts:
            lines.append(f"Device {loss['device_id']} reported: "
                         + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    for health in summary["sensor_health"]:
        if health["overflows"] or health["faults"]:
            lines.append(f"Device {health['device_id']}'s IMU lost samples: {health['overflows']} FIFO overflow(s) "
                         f"and {health['faults']} failed IMU read(s) over {health['boots']} synced boot(s); "
                         "walking minutes around them may be undercounted.")
    for estimate in summary["estimates"]:
        lines.append(f"Device {estimate['device_id']}: {estimate['records']} record(s) of boots without a clock are "
                     f"placed by estimate (time estimated), each within +/-{estimate['uncertainty_min']} min "
                     "unless the board lay switched off between boots.")
    for record in summary["quarantined"]:
        lines.append(f"Device {record['device_id']} record seq {record['seq']} is quarantined and not counted: "
                     f"{record['reason']}.")
    if summary["band"]:
        lines.append(f"Bands: {summary['band']['source']}.")
    return "\n".join(lines)


def plot(report, path):
    """Daily walking minutes as bars over HUNT's bands, with the daily target, to a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise UserError(f"--plot {path}: needs matplotlib; pip install 'walkdose[plot]'")
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    days = report["days"]
    half_day = datetime.timedelta(hours=12)
    dates = [datetime.datetime.fromisoformat(d["date"]) + half_day for d in days]  # bar centres
    minutes = [d["walking_min"] or 0.0 for d in days]
    top = max([140.0] + [m * 1.1 for m in minutes] + [d["target_min"] * 1.1 for d in days])
    figure, axes = pyplot.subplots(figsize=(max(8.0, 0.32 * len(days) + 3), 4.6), dpi=120)
    band_colours = ("#f4cccc", "#fce5cd", "#d9ead3", "#b6d7a8")
    for (low, high, label, risk_ratio), colour in zip(dayrules.HUNT_BANDS, band_colours):
        axes.axhspan(low, high if high is not None else top, color=colour, zorder=0)
        axes.text(1.01, (low + min(high or top, top)) / 2, f"{label} min\nRR {risk_ratio:.2f}",
                  transform=axes.get_yaxis_transform(), va="center", fontsize=8)
    for valid, style in ((True, {"color": "#1f4e79"}),
                         (False, {"color": "#ffffff", "edgecolor": "#7f7f7f", "hatch": "///"})):
        shown = [(date, day["walking_min"]) for date, day in zip(dates, days)
                 if day["recorded_min"] and (day["valid"] and day["complete"]) == valid]
        if shown:
            axes.bar(*zip(*shown), width=0.75, zorder=2, **style)
    targets = [d["target_min"] for d in days]
    step_dates = dates + [dates[-1] + datetime.timedelta(days=1)]
    axes.step([d - half_day for d in step_dates], targets + targets[-1:], where="post",
              color="#000000", linestyle="--", linewidth=1.5, zorder=4)
    summary = report["summary"]
    title = "Walking minutes per day"
    if summary["valid_days"]:
        title += (f": mean {summary['mean_walking_min']:.0f} min/day over {summary['valid_days']} valid days "
                  f"(HUNT band {summary['band']['range']})")
    axes.set_title(title, fontsize=11)
    axes.set_ylabel("walking minutes")
    axes.set_ylim(0, top)
    axes.set_xlim(dates[0] - half_day, dates[-1] + half_day)
    every = -(-len(dates) // 14)  # at most 14 labels, under their bars
    axes.set_xticks(dates[::every], [f"{d:%a}\n{d.day} {d:%b}" for d in dates[::every]], fontsize=8)
    axes.legend(handles=[Patch(facecolor="#1f4e79", label=f"valid day ({dayrules.VALID_RULE})"),
                         Patch(facecolor="#ffffff", edgecolor="#7f7f7f", hatch="///",
                               label=f"worn < {dayrules.VALID_WORN_H} h, or today: not in the mean"),
                         pyplot.Line2D([], [], color="#000000", linestyle="--", label="daily target")],
                loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8, frameon=False)
    figure.text(0.01, 0.01, "Bands: HUNT cohort, risk ratio of chronic low back pain by mean walking min/day; "
                "observational (Haddadj et al. 2025)", fontsize=7, color="#555555")
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path)
    pyplot.close(figure)


def configure(parser):
    dboptions.add_arguments(parser)
    parser.add_argument("--days", type=argtypes.whole(1), default=DEFAULT_DAYS, metavar="N",
                        help=f"the last N days, today included, from the first recorded day on (default {DEFAULT_DAYS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object (schema in README)")
    parser.add_argument("--plot", type=argtypes.output_file(".png"), metavar="FILE.png", help="also draw the days as bars over the HUNT bands")


def run(args):
    with db.opened(args.db, readonly=True) as conn:
        report = build_now(conn, args.days, dboptions.device_of(conn, args))
    if args.plot:
        plot(report, args.plot)
    print(json.dumps(report) if args.json else format_text(report))
    return 0


def build_now(conn, n_days=DEFAULT_DAYS, device_id=None):
    """build() for the last n_days up to today on this computer's clock and zone."""
    zone = localtime.local_zone()
    return build(conn, zone, localtime.local_date(time.time(), zone), n_days, device_id)
