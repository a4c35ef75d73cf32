"""The board entry: `walkdose flash` copies this file to the board's root as main.py, beside the firmware
package (/firmware/, precompiled .mpy) and walkdose_board.txt. It builds this board's parts from its
profile and runs the wearable loop. Holds no board facts (firmware/boards.py) and no loop logic
(firmware/app.py)."""
import time

from firmware.app import Wearable, run
from firmware.boards import BOARD_FILE, Board, installed
from firmware.clock import Clock
from firmware.link import Link
from firmware.stdio_port import StdioPort
from firmware.store import DayStore

STORE_ROOT = "/walkdose"  # the day store's folder; `walkdose flash` never touches it


def build(ticks_ms, sleep_ms, port, store_root=STORE_ROOT, board_file=BOARD_FILE):
    """The wearable of the board named in board_file, its parts made with the `machine` module."""
    name, version = installed(board_file)
    board = Board(name, version, sleep_ms)
    clock = Clock(ticks_ms)
    store = DayStore(store_root, clock)
    store.boot()
    link = Link(port, store, clock, board.identity)
    wearable = Wearable(board.imu, clock, store, link, board.cue)
    link.sensor = wearable  # the loop needs the link first; the link answers the loop's IMU counters
    return wearable


def main():
    run(build(time.ticks_ms, time.sleep_ms, StdioPort()), time.sleep_ms)


if __name__ == "__main__":
    main()
