"""The --db and --device options of the commands that read the database (report, plan, export), and
--device checked against it. Holds no query of its own and never writes the database."""
from . import db
from .errors import UserError


def add_arguments(parser):
    """--db and --device, which every command reading the database takes."""
    parser.add_argument("--db", help="the database (default: $WALKDOSE_DB, else walkdose.sqlite in the user's "
                        "data folder)")
    parser.add_argument("--device", help="only this device's data (default: all devices combined, per minute "
                        "the device with more walking)")


def device_of(conn, args):
    """args.device checked against the database: None (all devices) or a known device id."""
    if args.device is None:
        return None
    known = db.device_ids(conn)
    if args.device not in known:
        raise UserError(f"--device {args.device}: not in the database (devices: {', '.join(known) or 'none yet'})")
    return args.device
