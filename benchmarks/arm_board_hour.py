"""The emulated Cortex-M4F board (walkdose sim --arm) flashed an hour ago, worn since and synced, as
tests/test_arm_board.py does: the shipped recording from 5 minutes in, 8 times back to back, fidgeting
otherwise (the local zone is pinned so that the hour lies in waking hours). Prints one JSON object: the
board's report of its first simulated hour (guest instructions in the firmware's main loop, on the fake I2C
bus and in the simulated world) and the real seconds of each step. The README's and docs/arm-board.md's
figures.

    python benchmarks/arm_board_hour.py MICROPYTHON_SOURCE      (30-40 s after the build)
"""
import datetime
import importlib.resources
import json
import os
import sys
import tempfile
import time
import types

from walkdose import cli, flash, qemu, simulate
from walkdose.errors import UserError

RECORDING = str(importlib.resources.files("walkdose.recordings") / "Samsung_Jamie_Hard_InHand_1.csv")
WEAR_MIN = 62


def main(source):
    utc = datetime.datetime.now(datetime.timezone.utc)
    os.environ["TZ"] = f"WDT{-((12 - utc.hour + 12) % 24 - 12):+d}"  # now is 11:xx or 12:xx
    time.tzset()
    firmware = qemu.build(source)
    start = datetime.datetime.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=WEAR_MIN)
    walk_at = start + datetime.timedelta(minutes=5)
    seconds = {}
    hour = []
    with tempfile.TemporaryDirectory() as work:
        began = time.monotonic()
        with simulate.Simulator([f"{RECORDING}@{walk_at:%H:%M}x8"], work, start, arm_firmware=firmware) as sim:
            flash.time = types.SimpleNamespace(time=sim.worn_clock, monotonic=time.monotonic, sleep=time.sleep)
            if cli.main(["flash", "--board", simulate.BOARD, "--port", sim.pty_path]) != 0:
                sys.exit("the flash failed")
            seconds["flash"] = time.monotonic() - began
            sim.wait_for("caught_up", 600, on_event=lambda e: e["event"] == "progress" and hour.append(e))
            seconds["worn_until_caught_up"] = time.monotonic() - began - seconds["flash"]
            if cli.main(["sync", "--port", sim.pty_path, "--db", os.path.join(work, "db.sqlite")]) != 0:
                sys.exit("the sync failed")
            seconds["total"] = time.monotonic() - began
    print(json.dumps({"first_hour": hour[0], "hold_s": simulate.FLASH_HOLD_S, "seconds": seconds}))


if __name__ == "__main__":
    try:
        if len(sys.argv) != 2:
            raise UserError("usage: python benchmarks/arm_board_hour.py MICROPYTHON_SOURCE (a tree or tarball)")
        main(sys.argv[1])
    except UserError as error:
        print(f"arm_board_hour.py: {error}", file=sys.stderr)
        sys.exit(2)
