"""`walkdose demo`: the whole path on one machine - a simulated board wears the shipped recordings for a few
days, sync pulls them over the board's pty into the demo's own database, the report shows them.
Only orchestration: each step is the library call its own command makes."""
import contextlib
import datetime
import json
import os
import sys
import tempfile

from . import argtypes, db, replay, report, simulate, sync
from .errors import UserError

CATCH_UP_TIMEOUT_S = 1800


def default_db():
    """The demo's own database, beside the real one: never the wearer's, whose device ids and days it would mix."""
    return os.path.join(os.path.dirname(db.default_path()), "walkdose-demo.sqlite")


def configure(parser):
    parser.add_argument("--days", type=argtypes.whole(0), default=2, help="simulated days before today (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    simulate.add_board_options(parser)
    replay.add_quiet(parser)


def run(args):
    if not 0 <= args.days <= simulate.MAX_DAYS:
        raise UserError(f"--days must be 0 to {simulate.MAX_DAYS}")
    start = simulate.start_day(args.days, None)
    recordings = simulate.default_wear()

    simulated_s = int((datetime.datetime.now() - start).total_seconds())
    bar = replay.progress(None, simulated_s, unit="simulated s", quiet=args.quiet)

    def show(event):
        if event["event"] == "progress":
            bar.update(min(event["sim_s"], simulated_s) - bar.n)
        line = simulate.describe(event, start)
        if line and not args.quiet:
            bar.write(f"walkdose demo: {line}", file=sys.stderr)

    with bar, tempfile.TemporaryDirectory(prefix="walkdose-demo-") as workdir:
        sim = simulate.Simulator(recordings, workdir, start, power_cut_every_min=args.power_cut_every,
                                 engine=args.engine)
        print(f"walkdose demo: a simulated board wears {len(simulate.shipped_recordings())} shipped walks, four walks a "
              f"day from {start:%Y-%m-%d} until now ({args.engine})", file=sys.stderr, flush=True)
        db_path = default_db()  # fixed, never a user's path: each run replaces it
        with sim:
            sim.wait_for("caught_up", CATCH_UP_TIMEOUT_S, on_event=show)
            os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
            if os.path.exists(db_path):  # a fresh simulated board: the last run's days would clash with its seqs
                os.remove(db_path)
            print(f"walkdose demo: walkdose sync --port {sim.pty_path} --db {db_path}", file=sys.stderr, flush=True)
            print(sync.sync_port(sim.pty_path, db_path), file=sys.stderr)  # stdout is the report's alone (--json)
        with contextlib.closing(db.open_db(db_path)) as conn:
            days = report.build_now(conn)
        print(json.dumps(days) if args.json else report.format_text(days))
        print(f"walkdose demo: the days are kept in {db_path}; show them again with: walkdose report --db {db_path}",
              file=sys.stderr)
        return 0
