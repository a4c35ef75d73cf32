"""A board in-process for the sync tests: the real firmware Link over the real DayStore on a temporary
folder, with a tick counter the test moves, and a pyserial-like transport to it that can be cut after
any number of bytes, as a pulled cable would."""
import contextlib
import copy
import os
import shutil
import sqlite3
import threading
import time

import serial

from firmware.clock import TICKS_PERIOD, Clock, days_from_civil
from firmware.link import Link
from firmware.store import DayStore
from walkdose import db, protocol, sync
from walkdose.errors import UserError

DAY = days_from_civil(2026, 3, 2)  # a Monday in CET (UTC+1), four weeks before the DST change
OFFSET_S = 3600


class Identity:
    def __init__(self, device_id="e3a1f09c2b7d4410", board="xiao-nrf52840-sense", firmware_version="0.1.0",
                 battery_mv=3912):
        self.device_id = device_id
        self.board = board
        self.firmware_version = firmware_version
        self._battery_mv = battery_mv

    def battery_mv(self):
        return self._battery_mv


class Ticks:
    """ticks_ms() of a board, moved by the test; starts near the wrap."""

    def __init__(self, ms=TICKS_PERIOD - 90_000):
        self.ms = ms

    def __call__(self):
        return self.ms % TICKS_PERIOD


class MemoryPort:
    """The device end: bytes the host sent wait in `incoming`; what the device writes goes to `sink`."""

    def __init__(self):
        self.incoming = bytearray()
        self.sink = None

    def read_into(self, buf):
        n = min(len(buf), len(self.incoming))
        buf[:n] = self.incoming[:n]
        del self.incoming[:n]
        return n

    def write(self, data):
        self.sink(bytes(data))


class Imu:
    def __init__(self):
        self.overflows = 0


class Wearable:
    """The counters of the main loop (firmware/app.py) the link answers the sensor command from; a
    test sets them by hand."""

    def __init__(self):
        self.imu = Imu()
        self.samples_read = 0
        self.imu_faults = 0


class Board:
    """Clock, store and link of one board; minutes are recorded as the main loop would. With
    imu_counters, the link answers the sensor command from `wearable`; without, it answers error 2
    as firmware before that command did."""

    def __init__(self, root, identity=None, capacity_bytes=128 * 1024, imu_counters=False):
        self.ticks = Ticks()
        self.clock = Clock(self.ticks)
        self.store = DayStore(str(root), self.clock, capacity_bytes)
        self.store.boot()
        self.port = MemoryPort()
        self.identity = identity or Identity()
        self.wearable = Wearable() if imu_counters else None
        self.link = Link(self.port, self.store, self.clock, self.identity, self.wearable)

    def set_local(self, minute_of_day, day=DAY, offset_s=OFFSET_S):
        """As a sync would: the clock reads `minute_of_day` of local `day`, 30 s into the minute."""
        self.clock.set_time(day * 86400 - offset_s + minute_of_day * 60 + 30, offset_s)

    def minute(self, walk_s=0, steps=0, pace=0, movement_mg=20):
        self.ticks.ms += 60_000
        self.store.record_minute(walk_s, steps, pace, movement_mg)

    def walk(self, minutes, steps_per_min=110):
        for _ in range(minutes):
            self.minute(60, steps_per_min, 2, movement_mg=300)
        self.store.record_bout(minutes * 60)

    def rest(self, minutes, movement_mg=20):
        for _ in range(minutes):
            self.minute(movement_mg=movement_mg)

    def reboot(self):
        """Power cycle: RAM is lost, the flash folder stays."""
        self.ticks = Ticks()
        self.clock = Clock(self.ticks)
        self.store = DayStore(self.store.root, self.clock, self.store.capacity_bytes)
        self.store.boot()
        self.wearable = Wearable() if self.wearable is not None else None  # RAM: counters from 0
        self.link = Link(self.port, self.store, self.clock, self.identity, self.wearable)

    def serve(self):
        """The main loop's serve() calls until the input is drained."""
        while self.port.incoming:
            self.link.serve()

    def clone(self, root):
        """An identical board (RAM state and a copy of its flash folder) at `root`, with a link
        that has served nothing yet."""
        link, self.link = self.link, None
        try:
            twin = copy.deepcopy(self)
        finally:
            self.link = link
        shutil.copytree(self.store.root, str(root))
        twin.store.root = str(root)
        twin.link = Link(twin.port, twin.store, twin.clock, twin.identity, twin.wearable)
        return twin


def week_of_walking(root, identity=None):
    """A board with an unknown-time segment from a boot before any sync, two closed days and an
    open third day: a full first sync's worth of records."""
    board = Board(root, identity)
    board.rest(20, movement_mg=40)
    board.walk(12)
    board.reboot()
    board.set_local(7 * 60)
    for day, walk_min in enumerate((25, 240, 45)):  # the 240-minute day needs two fetch chunks
        board.walk(walk_min)
        board.rest(30)
        board.walk(8, steps_per_min=125)
        if day < 2:
            board.ticks.ms += (24 * 60 - walk_min - 38) * 60_000  # off the wrist, unrecorded, to 07:00
    return board


class Cable:
    """pyserial-like host end of a Board: write() delivers to the device and runs its serve() calls,
    read() returns what it answered. With cut_after_bytes, the cable dies once that many bytes have
    crossed it in either direction: the rest of the write or answer is lost and every later call
    raises serial.SerialException."""

    def __init__(self, board, cut_after_bytes=None):
        self.board = board
        self.timeout = 0.05
        self.budget = cut_after_bytes
        self.crossed = 0
        self.line_ends = []  # bytes crossed when each line's line feed had crossed, either direction
        self.answers = bytearray()
        board.port.sink = self._from_device

    def _pass(self, data):
        """The part of data that crosses before the cut."""
        n = len(data) if self.budget is None else max(0, min(len(data), self.budget - self.crossed))
        for i in range(n):
            if data[i] == 0x0A:
                self.line_ends.append(self.crossed + i + 1)
        self.crossed += n
        return data[:n]

    @property
    def dead(self):
        return self.budget is not None and self.crossed >= self.budget

    def _check(self):
        if self.dead:
            raise serial.SerialException("device reports readiness to read but returned no data "
                                         "(device disconnected or multiple access on port?)")

    def write(self, data):
        self._check()
        passed = self._pass(bytes(data))
        self.board.port.incoming += passed
        self.board.serve()
        if len(passed) < len(data):
            self._check()
        return len(passed)

    def _from_device(self, data):
        self.answers += self._pass(data)

    @property
    def in_waiting(self):
        return len(self.answers)

    def read(self, n=1):
        if not self.answers:
            self._check()
        data = bytes(self.answers[:n])
        del self.answers[:n]
        return data

    def close(self):
        pass


SYNC_EPOCH_S = 1_772_900_000  # 2026-03-07 16:13:20 UTC: the host's clock, frozen, at every sync


def database_rows(conn):
    """Every table's rows, sorted: two databases are equal when these are."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}


def sync_over(cable, db_path, epoch_s=SYNC_EPOCH_S):
    """One `walkdose sync` over the cable into db_path, the host's clock frozen at epoch_s; None or
    the UserError it ended with."""
    conn = db.open_db(str(db_path))
    conn.execute("PRAGMA synchronous = OFF")  # the sweep's speed; transactions stay as they are
    try:
        sync.sync_device(protocol.Client(cable), conn, "cable", now=lambda: epoch_s, say=lambda message: None)
    except UserError as exc:
        return exc
    finally:
        conn.close()
    return None


def cut_sweep(template, workdir, offsets):
    """For each byte offset: a copy of the template board, a sync cut after that many bytes, then
    a clean sync; yields (offset, the cut sync's error or None, database rows)."""
    for offset in offsets:
        folder = workdir / ("cut%06d" % offset)
        board = template.clone(folder / "flash")
        error = sync_over(Cable(board, cut_after_bytes=offset), folder / "walkdose.sqlite")
        assert sync_over(Cable(board), folder / "walkdose.sqlite") is None
        conn = sqlite3.connect(str(folder / "walkdose.sqlite"))
        rows = database_rows(conn)
        conn.close()
        shutil.rmtree(str(folder))
        yield offset, error, rows


class PtyPort:
    """The board end of a pty as the link's port."""

    def __init__(self, fd):
        self.fd = fd
        os.set_blocking(fd, False)

    def read_into(self, buf):
        try:
            data = os.read(self.fd, len(buf))
        except (BlockingIOError, OSError):  # nothing waiting, or no host has the port open
            return 0
        buf[:len(data)] = data
        return len(data)

    def write(self, data):
        data = bytes(data)
        while data:
            try:
                data = data[os.write(self.fd, data):]
            except BlockingIOError:
                time.sleep(0.001)


@contextlib.contextmanager
def link_on_pty(board):
    """The board's link served from a thread on the master side of a pty, as its USB serial; yields
    (link, the pty's path) for the host to open."""
    master, slave = os.openpty()
    link = Link(PtyPort(master), board.store, board.clock, board.identity, board.wearable)
    stop = threading.Event()

    def main_loop():
        while not stop.is_set():
            if not link.serve():
                time.sleep(0.001)

    thread = threading.Thread(target=main_loop, daemon=True)
    thread.start()
    try:
        yield link, os.ttyname(slave)
    finally:
        stop.set()
        thread.join()
        os.close(master)
        os.close(slave)
