"""`walkdose boards`: the board profiles `walkdose flash` knows, one line each or as JSON. The profiles
themselves are data in firmware/boards.py; nothing here talks to a board."""
import json

from .firmware import boards


def configure(parser):
    parser.add_argument("--json", action="store_true", help="print the profiles as one JSON object")


def run(args):
    if args.json:
        print(json.dumps(boards.PROFILES))
        return 0
    print(f"{'board':22s} {'IMU':10s} {'rate':>8s}  {'-march':10s} {'MicroPython firmware':27s} title")
    for name in boards.PROFILES:  # the primary board first
        p = boards.PROFILES[name]
        print(f"{name:22s} {p['imu']:10s} {p['rate_mhz'] / 1000:5g} Hz  {p['march']:10s} "
              f"{p['micropython_board']:27s} {p['title']}")
    return 0
