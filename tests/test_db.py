"""The host database as a sync fills it: records of the real firmware store (CPython, temporary
directory) saved, merged, placed on the calendar and read back per minute and per local day."""
import datetime
import os
import re
import sqlite3
import stat
import struct
import zlib
import zoneinfo

import pytest

from conftest import REPO
from walkdose import db, placement
from walkdose.errors import UserError
from walkdose.firmware import store
from walkdose.firmware.clock import TICKS_PERIOD, Clock
from walkdose.firmware.store import DayStore

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


def epoch(*fields, minute=0):
    """UTC epoch of a wall-clock time in Oslo."""
    return int(datetime.datetime(*fields, minute, tzinfo=OSLO).timestamp())


class Board:
    """A walkdose board on CPython: the real clock and day store on tmp files, in a world whose true
    time the test knows (`world_s`). A new Board on the same folder is a reboot."""

    def __init__(self, root, world_s, device_id="board-a"):
        self.root, self.device_id = str(root), device_id
        self.boot_world_s = world_s
        self.ms = TICKS_PERIOD - 90_000  # a tick wrap early in the boot, as on a board
        self.boot_ms = self.ms
        self.clock = Clock(lambda: self.ms % TICKS_PERIOD)
        self.store = DayStore(self.root, self.clock)
        self.store.boot()

    @property
    def world_s(self):
        return self.boot_world_s + (self.ms - self.boot_ms) // 1000

    def minute(self, walk_s=0, steps=0, pace=0, movement_mg=30):
        """A detector minute, handed over just after it ended (movement 30 mg: worn)."""
        self.ms += 60_000
        self.store.record_minute(walk_s, steps, pace, movement_mg)

    def minutes(self, n, **values):
        for _ in range(n):
            self.minute(**values)

    def day(self, walking=(), worn_min=0, bout_s=None, minutes=1440):
        """`minutes` minutes from now: the walking minutes [(count, walk_s, steps, pace)] at 200 mg,
        then idle worn minutes (30 mg) up to worn_min, then the nightstand (3 mg, not worn)."""
        done = 0
        for count, walk_s, steps, pace in walking:
            self.minutes(count, walk_s=walk_s, steps=steps, pace=pace, movement_mg=200)
            done += count
        if bout_s:
            self.store.record_bout(bout_s)
        self.minutes(worn_min - done)
        self.minutes(minutes - max(worn_min, done), movement_mg=3)

    def reboot(self):
        """Power off and straight back on: RAM is gone, the world goes on."""
        return Board(self.root, self.world_s, self.device_id)

    def set_clock(self):
        """What a sync tells the board: UTC now, Oslo's offset and its next change."""
        now_s = self.world_s
        offset_s = _offset(now_s)
        change_s = now_s - now_s % 3600 + 3600
        while _offset(change_s) == offset_s and change_s < now_s + 200 * 86400:
            change_s += 3600
        self.clock.set_time(now_s, offset_s, change_s, _offset(change_s))

    def sync(self, conn, fetch=True, minutes_dropped=()):
        """The sync's calls in its order: device, clock, every unacknowledged record, losses. The seqs
        in minutes_dropped come as their summary alone, as from a store that had to drop their minutes."""
        now_s = self.world_s
        info = {"device_id": self.device_id, "board": "cpython", "firmware": "test", "battery_mv": 3900,
                "boot_id": self.store.boot_id, "uptime_s": self.clock.uptime_ms() // 1000,
                "clock_set": self.clock.is_set()}
        db.save_device(conn, info, now_s)
        self.set_clock()
        if not fetch:
            return
        for seq, key, flags in self.store.unsynced():
            data = self.store.read(seq)
            if seq in minutes_dropped:
                data = data[:store.record_at(data, 0)[5]]
            db.save_record(conn, self.device_id, seq, data, info["boot_id"], info["uptime_s"], now_s)
            self.store.ack(seq)
        db.save_losses(conn, self.device_id, self.store.report(), now_s)


def _offset(epoch_s):
    return int(datetime.datetime.fromtimestamp(epoch_s, OSLO).utcoffset().total_seconds())


def dump(conn):
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("devices", "boots", "records", "minutes", "losses")}


def placed(conn, device_id="board-a"):
    return {seq: (start, how) for seq, start, how in conn.execute(
        "SELECT seq, start_epoch_s, placement FROM records WHERE device_id = ? ORDER BY seq", (device_id,))}


def test_a_new_database_is_private_and_versioned(tmp_path, monkeypatch):
    monkeypatch.setenv("WALKDOSE_DB", str(tmp_path / "env" / "deep" / "w.sqlite"))
    old_umask = os.umask(0)  # a permissive umask must not widen the mode
    try:
        connection = db.open_db()
    finally:
        os.umask(old_umask)
    path = tmp_path / "env" / "deep" / "w.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert connection.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    connection.execute("INSERT INTO plan VALUES (1, 90, 5, NULL)")
    connection.commit()
    connection.close()
    again = db.open_db(str(path))  # reopening keeps the data
    assert again.execute("SELECT goal_min FROM plan").fetchone() == (90,)
    # SQLite's header holds the application id at offset 68, big-endian: 'walk' (docs/db-schema.md)
    assert path.read_bytes()[68:72] == b"walk"
    assert again.execute("PRAGMA user_version").fetchone()[0] == 1  # docs/db-schema.md: schema version 1


def test_the_default_database_is_in_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("WALKDOSE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db.open_db().close()
    assert (tmp_path / "data" / "walkdose" / "walkdose.sqlite").exists()


def test_foreign_and_newer_files_are_refused_with_the_fix(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("x" * 200)
    with pytest.raises(UserError, match="notes.txt: not a walkdose database.*--db"):
        db.open_db(str(text))
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE songs (title TEXT)").connection.commit()
    with pytest.raises(UserError, match="other.sqlite: not a walkdose database"):
        db.open_db(str(other))
    newer = tmp_path / "newer.sqlite"
    db.open_db(str(newer)).execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}").connection.close()
    with pytest.raises(UserError, match="newer walkdose"):
        db.open_db(str(newer))


def test_the_documented_schema_is_the_live_schema(conn):
    """docs/db-schema.md has a `### table` heading and a | column | type | meaning | table per table; the
    primary key's first column has a meaning that starts "key", naming the key's other columns after
    "with" ("key, with seq and minute")."""
    with open(os.path.join(REPO, "docs", "db-schema.md")) as fh:
        text = fh.read()
    documented = {}
    for table, body in re.findall(r"^### `?(\w+)`?\n(.*?)(?=^#|\Z)", text, re.M | re.S):
        rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (.*) \|$", body, re.M)
        key = [(column, meaning) for column, _, meaning in rows if re.match(r"key\b", meaning)]
        assert len(key) == 1, f"{table}: {len(key)} columns documented as its key"
        column, meaning = key[0]
        others = re.match(r"key, with ([\w, ]+?)(?: \||$)", meaning)
        key_columns = [column] + (re.split(r", | and ", others.group(1)) if others else [])
        documented[table] = ([(column, kind) for column, kind, _ in rows], key_columns)
    live = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        key_columns = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]]
        live[table] = ([(c[1], c[2]) for c in columns], key_columns)
    assert documented == live
    assert f"version {db.SCHEMA_VERSION}" in text


def test_syncing_twice_changes_nothing(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(90, walk_s=40, steps=60, pace=2)
    board.sync(conn)
    first = dump(conn)
    board.sync(conn)  # same moment, same answers
    assert dump(conn) == first
    assert len(first["minutes"]) == 90 and sum(r[3] for r in first["minutes"]) == 90 * 40
    board.ms += 20_000  # a moment later, no minute closed: only the times of the last sync move
    board.sync(conn)
    again = dump(conn)
    assert again["devices"] != first["devices"] and again["losses"] != first["losses"]
    for table in ("boots", "records", "minutes"):
        assert again[table] == first[table]


def test_a_grown_open_day_merges_and_a_power_cut_loses_no_stored_minute(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(25, walk_s=60, steps=100, pace=2)  # written at 10 and 20 worn minutes: 5 in RAM only
    # A copy holding minutes the flash does not: a sync's listing writes the open record first, so this
    # takes firmware from before that, or a write the filesystem refused.
    db.save_record(conn, board.device_id, 1, board.store.read(1), board.store.boot_id,
                   board.clock.uptime_ms() // 1000, board.world_s)
    assert conn.execute("SELECT count(*) FROM minutes").fetchone()[0] == 25
    board = board.reboot()  # the 5 unwritten minutes are gone from the device
    board.minutes(3, walk_s=30, steps=50, pace=1)  # no clock: a segment; closes the day record at 20 min
    device_copy = store.parse_records(board.store.read(1))[0]
    assert struct_minutes(device_copy[1]) == 20
    board.sync(conn)
    rows = conn.execute("SELECT seq, count(*), sum(walk_s) FROM minutes GROUP BY seq").fetchall()
    assert rows == [(1, 25, 25 * 60), (2, 3, 90)]
    # and the steps of the day stay at their highest copy (2,500), not the device's 2,000
    assert conn.execute("SELECT steps FROM records WHERE seq = 1").fetchone() == (2500,)


def struct_minutes(minutes_record):
    slots = bytearray(store.MAX_MINUTES * 4)
    first = int.from_bytes(minutes_record[4][:2], "little")
    store.decode_minutes(minutes_record[4][2:], first, slots)
    return sum(1 for m in range(store.MAX_MINUTES) if slots[4 * m])


def test_two_devices_are_kept_apart_and_combined_per_minute(tmp_path, conn):
    start = epoch(2026, 1, 5, 9)
    wrist = Board(tmp_path / "wrist", start, "wrist-1")
    hip = Board(tmp_path / "hip", start, "hip-2")
    wrist.set_clock()
    hip.set_clock()
    for walk in range(10):
        wrist.minute(walk_s=50 if walk < 5 else 10, steps=80, pace=2)
        hip.minute(walk_s=20 if walk < 5 else 60, steps=100, pace=3)
    wrist.sync(conn)
    hip.sync(conn)
    assert conn.execute("SELECT device_id, seq, count(*) FROM minutes GROUP BY device_id, seq").fetchall() == [
        ("hip-2", 1, 10), ("wrist-1", 1, 10)]  # the same seq twice, apart
    assert sum(r[2] for r in db.minute_rows(conn, "wrist-1")) == 5 * 50 + 5 * 10
    combined = db.minute_rows(conn)
    assert [r[1] for r in combined] == ["wrist-1"] * 5 + ["hip-2"] * 5
    assert sum(r[2] for r in combined) == 5 * 50 + 5 * 60
    assert [r[0] * 60 for r in combined[:2]] == [start, start + 60]  # 09:00 and 09:01


def test_segments_of_the_current_boot_are_placed_exactly(tmp_path, conn):
    start = epoch(2026, 1, 5, 6, minute=10)
    board = Board(tmp_path / "dev", start)
    board.minutes(50, walk_s=60, steps=110, pace=2)  # never synced: unknown time
    board.sync(conn)
    (seq, (start_epoch_s, how)), = placed(conn).items()
    assert how == "current_boot" and start_epoch_s == start
    days = db.day_totals(conn, OSLO)
    assert list(days) == [datetime.date(2026, 1, 5)] and days[datetime.date(2026, 1, 5)].walk_s == 3000


def test_an_anchored_boot_is_placed_by_its_anchor(tmp_path, conn):
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(30, walk_s=60)
    board.set_clock()  # another computer's sync set the clock; this database never saw the boot
    board.minutes(5)  # the segment closes, carrying the anchor
    board = board.reboot()
    board.minutes(10)
    board.sync(conn)
    assert placed(conn)[1] == (start, "anchored")


def test_a_boot_never_synced_is_placed_between_its_neighbours_and_flagged(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(60, walk_s=30, steps=40, pace=1)  # 07:00-08:00, day record (seq 1)
    board = board.reboot()  # a reset: boot 2 starts at once, without a clock
    board.minutes(40, walk_s=60, steps=100, pace=2)  # 08:00-08:40 (seq 2)
    board.ms += 20 * 60_000  # battery flat for 20 minutes
    board = board.reboot()  # boot 3 at 09:00
    board.minutes(15)  # seq 3, placed by the current boot
    board.sync(conn)
    where = placed(conn)
    assert where[1] == (epoch(2026, 1, 5, 0), "clock")  # a day record starts at local midnight
    # a cut loses half a flush interval on average: placed that long after seq 1 ends
    assert where[2] == (epoch(2026, 1, 5, 8) + placement.LOST_AT_CUT_S, "estimated")
    assert where[3] == (epoch(2026, 1, 5, 9), "current_boot")
    assert [r[6] for r in db.minute_rows(conn)][59:61] == [0, 1]
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert day["estimated"] and day["walking_min"] == 30 + 40


def test_an_estimate_never_overlaps_the_next_known_boot(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.clock.set_time(board.world_s + 1800, 3600)  # a host whose clock ran 30 minutes fast
    board.minutes(60)  # 07:00-08:00, recorded as 07:30-08:30
    board = board.reboot()
    board.minutes(40)  # boot 2, no clock: 08:00-08:40
    board.ms += 10 * 60_000
    board = board.reboot()  # boot 3 from 08:50, synced by us
    board.minutes(5)
    board.sync(conn)
    # right after seq 1 (08:30) it would run into boot 3: moved to end a lost-at-cut before boot 3 starts
    assert placed(conn)[2] == (epoch(2026, 1, 5, 8, minute=10) - placement.LOST_AT_CUT_S, "estimated")


def test_boots_before_the_first_sync_are_chained_back_each_on_its_own_day(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 6))
    for _ in range(2):  # two days without a clock, each ended by a cut 5 minutes after a flush
        board.minutes(30, walk_s=60, steps=110, pace=2)
        board.minutes(1440 - 30 + 5)
        board = board.reboot()
    board.minutes(15)
    board.sync(conn)
    where = placed(conn)
    assert where[1] == (epoch(2026, 1, 5, 6), "estimated")
    assert where[2] == (epoch(2026, 1, 6, 6, minute=5), "estimated")
    days = db.day_totals(conn, OSLO)
    assert [days[datetime.date(2026, 1, d)].walk_s for d in (5, 6)] == [30 * 60, 30 * 60]
    assert db.estimates(conn) == [{"device_id": "board-a", "records": 2, "uncertainty_min": 10}]


def uncertainties(conn):
    return dict(conn.execute("SELECT seq, uncertainty_s FROM estimates ORDER BY seq").fetchall())


def test_unanchored_boots_and_the_parts_of_one_are_chained_back_each_from_the_next(tmp_path, conn):
    # Boot 1 runs into a second part (a part is 86400 s of uptime); boots 1, 2 and 3 each end in a cut
    # 5 minutes after a flush, what LOST_AT_CUT_S assumes, so chained back from boot 4 each lands exactly.
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(1440 + 30 + 5, walk_s=60, steps=110, pace=2)
    boot_starts = [start]
    for _ in range(2):
        board = board.reboot()
        boot_starts.append(board.world_s)
        board.minutes(30 + 5, walk_s=60, steps=110, pace=2)
    board = board.reboot()
    boot_starts.append(board.world_s)
    board.minutes(15)
    board.sync(conn)
    assert placed(conn) == {1: (start, "estimated"), 2: (start + 86400, "estimated"),
                            3: (boot_starts[1], "estimated"), 4: (boot_starts[2], "estimated"),
                            5: (boot_starts[3], "current_boot")}
    # each cut chained through adds a lost-at-cut either way; both parts of boot 1 share its one
    assert uncertainties(conn) == {1: 900, 2: 900, 3: 600, 4: 300}


@pytest.mark.parametrize("gap_min, seq2, seq3", [
    (300, ((8, 5), 300), ((9, 0), 600)),  # boot 4 far later: both chained forward from the day
    (13, ((8, 5), 300), ((9, 0), 600)),  # boot 4 exactly a lost-at-cut after seq 3's estimated end: kept
    (5, ((7, 57), 600), ((8, 52), 300)),  # boot 4 sooner: each ends a lost-at-cut before what follows
    (0, ((7, 52), 600), ((8, 47), 300))])
def test_unanchored_boots_after_a_day_are_chained_forward_unless_they_run_into_the_next_known_boot(
        tmp_path, conn, gap_min, seq2, seq3):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(60)  # 07:00-08:00, a day record (seq 1), no walking: seq 2 moved over it overfills nothing
    board = board.reboot()  # boot 2 at 08:00: 50 minutes, a cut 1 minute after a flush
    board.minutes(51, walk_s=60, steps=100, pace=2)
    board = board.reboot()  # boot 3 at 08:51: 20 minutes, a cut 1 minute after a flush
    board.minutes(21, walk_s=60, steps=100, pace=2)
    board.ms += gap_min * 60_000
    board = board.reboot()  # boot 4 at 09:12 + gap, synced
    board.minutes(15)
    board.sync(conn)
    # forward: seq 2 starts a lost-at-cut after seq 1 ends (08:05), seq 3 one after seq 2's 50 minutes (09:00,
    # ending 09:20); back: a record ending later than a lost-at-cut before what follows it is moved back
    where = placed(conn)
    assert where[2] == (epoch(2026, 1, 5, *seq2[0]), "estimated")
    assert where[3] == (epoch(2026, 1, 5, *seq3[0]), "estimated")
    assert uncertainties(conn) == {2: seq2[1], 3: seq3[1]}


def test_a_boot_is_chained_back_from_a_known_boot_that_has_no_record_yet(tmp_path, conn):
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(45, walk_s=60, steps=110, pace=2)  # a cut 5 minutes after a flush
    board = board.reboot()
    board.sync(conn)  # boot 2 is known from this sync, and has recorded nothing
    assert placed(conn) == {1: (start, "estimated")}
    assert uncertainties(conn) == {1: 300}

def test_the_second_part_of_a_known_boot_starts_a_day_of_uptime_after_its_first(tmp_path, conn):
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(1440 + 10)  # a part is 86400 s of uptime
    board.sync(conn)
    assert placed(conn) == {1: (start, "current_boot"), 2: (start + 86400, "current_boot")}


def test_a_boot_is_chained_back_from_a_day_another_computer_placed(tmp_path, conn):
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(45, walk_s=60, steps=110, pace=2)  # boot 1: a cut 5 minutes after a flush
    board = board.reboot()
    board.set_clock()  # boot 2 at 06:45: another computer's sync; this database never learns its base
    board.minutes(20)
    board.ms += 60 * 60_000
    board = board.reboot()
    board.minutes(5)
    board.sync(conn)
    # seq 1 ends a lost-at-cut before the day record's first minute (06:45), not before boot 3
    assert placed(conn)[1] == (start, "estimated") and placed(conn)[2] == (epoch(2026, 1, 5, 0), "clock")
    assert uncertainties(conn)[1] == 300


def test_a_known_boot_before_an_unanchored_one_never_limits_it(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 6))
    board.minutes(5)
    board = board.reboot()  # boot 2 at 06:05, synced here: its base is known
    board.sync(conn)
    board.minutes(30)
    board = board.reboot()  # boot 3 at 06:35, never synced
    board.minutes(40)
    board.ms += 60 * 60_000
    board = board.reboot()  # boot 4 at 08:15
    board.minutes(5)
    board.sync(conn)
    # boot 1's 5 minutes never reached flash; boot 3 (seq 2) starts a lost-at-cut after boot 2's day (seq 1) ends
    assert placed(conn) == {1: (epoch(2026, 1, 5, 0), "clock"), 2: (epoch(2026, 1, 5, 6, minute=40), "estimated"),
                            3: (epoch(2026, 1, 5, 8, minute=15), "current_boot")}

def test_an_impossible_minute_is_quarantined_and_not_counted(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.minutes(10, walk_s=60, steps=250, pace=3)  # 250 steps a minute: more than 4 a second
    board.sync(conn)
    assert db.quarantined(conn) == [{"device_id": "board-a", "seq": 1,
                                     "reason": "minute 0: 250 steps in one minute (at most 240, 4 steps/s)"}]
    assert placed(conn)[1] == (None, None) and db.day_totals(conn, OSLO) == {}


def test_overlapping_records_never_overfill_a_minute(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.clock.set_time(board.world_s + 1800, 3600)  # a host clock 30 minutes fast
    board.minutes(60, walk_s=60, steps=100, pace=2)  # recorded as 07:30-08:30
    board = board.reboot()
    board.minutes(40, walk_s=60, steps=100, pace=2)  # no clock: placed 08:05-08:45, over seq 1's end
    board.ms += 10 * 60_000
    board = board.reboot()
    board.minutes(5)
    board.sync(conn)
    # seq 2's minute 0, at 08:05, meets seq 1's minute at 08:05: 60 + 60 s of walking
    assert [(q["seq"], q["reason"]) for q in db.quarantined(conn)] == [
        (2, "minute 0 overlaps seq 1 and would hold 120 s of walking in one minute (at most 60)")]
    assert db.day_totals(conn, OSLO)[datetime.date(2026, 1, 5)].walk_s == 60 * 60


def test_a_dst_fall_back_day_has_25_hours_of_minutes(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 10, 24, 23, minute=58))
    board.sync(conn, fetch=False)
    board.minutes(2 + 1500 + 3)  # 23:58 .. the whole 25-hour Sunday .. 00:02 on Monday
    board.sync(conn)
    days = db.days(conn, OSLO, datetime.date(2026, 10, 24), datetime.date(2026, 10, 26))
    assert [d["recorded_min"] for d in days] == [2, 1500, 3]
    assert [d["worn_min"] for d in days] == [2, 1500, 3] and days[1]["valid"]


SYNCED_S = epoch(2026, 2, 2, 12)  # the host's clock at the syncs of the tests below


def test_bad_records_are_refused_naming_the_seq(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(20, walk_s=10)
    data = bytearray(board.store.read(1))
    summary_end = store.record_at(bytes(data), 0)[5]
    day = store.record_at(bytes(data), 0)[2]
    for seq, record, error in [
            (2, bytes(data), "seq 2: first record is kind 1, seq 1, 26 bytes; expected a summary of seq 2 (26 bytes)"),
            (1, bytes(data[:20]) + bytes([data[20] ^ 1]) + bytes(data[21:]),  # the summary damaged: 44 bytes
             f"seq 1: 44 damaged bytes in {len(data)}, 1 valid records; expected a summary record and its minutes "
             "record"),
            (1, b"", "seq 1: 0 damaged bytes in 0, 0 valid records; expected a summary record and its minutes record"),
            (1, bytes(data[:summary_end]) + store.pack_record(2, 0, day, 9, b"\0\0"),
             f"seq 1: the record after the summary is not its minutes record (kind 2, key {day}, seq 9, 2 records)")]:
        with pytest.raises(ValueError) as refused:
            db.save_record(conn, "board-a", seq, record, 1, 0, SYNCED_S)
        assert str(refused.value) == error
    assert conn.execute("SELECT count(*) FROM records").fetchone() == (0,)
    db.save_record(conn, "board-a", 1, board.store.read(1), 1, 0, SYNCED_S)
    other = Board(tmp_path / "wiped", epoch(2026, 2, 1, 7))  # the store was wiped: seq 1 is another day
    other.set_clock()
    other.minutes(3)
    with pytest.raises(ValueError, match="seq 1 of device board-a: stored as key"):
        db.save_record(conn, "board-a", 1, other.store.read(1), 1, 0, SYNCED_S)


def test_a_day_whose_key_disagrees_with_its_start_or_lies_in_the_future_is_refused(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(20, walk_s=10)
    full = board.store.read(1)
    data = bytearray(full[:store.record_at(full, 0)[5]])  # the summary alone
    struct.pack_into("<I", data, 4, 20_500)  # the key of 2026-02-14; its start_s says 2026-01-05
    body_end = len(data) - store.CRC_BYTES
    struct.pack_into("<I", data, body_end, zlib.crc32(data[:body_end]))
    with pytest.raises(ValueError, match="seq 1: day key 20500 but start_s .*not that day's local midnight"):
        db.save_record(conn, "board-a", 1, bytes(data), 1, 0, SYNCED_S)
    with pytest.raises(ValueError, match="seq 1: day 2026-01-05 starts after this computer's clock plus one day"):
        db.save_record(conn, "board-a", 1, board.store.read(1), 1, 0, epoch(2026, 1, 3, 23))
    assert conn.execute("SELECT count(*) FROM records").fetchone() == (0,)


def summary_starting(data, start_s):
    """The summary record of DayStore.read() bytes with its start_s rewritten and its CRC made good again."""
    summary = bytearray(data[:store.record_at(data, 0)[5]])
    struct.pack_into("<I", summary, store.HEADER_BYTES, start_s)
    body_end = len(summary) - store.CRC_BYTES
    struct.pack_into("<I", summary, body_end, zlib.crc32(summary[:body_end]))
    return bytes(summary)


@pytest.mark.parametrize("from_midnight_utc_s, accepted", [(-64801, False), (-64800, True), (64800, True),
                                                           (64801, False)])
def test_a_days_start_may_be_its_utc_midnight_give_or_take_18_hours(tmp_path, conn, from_midnight_utc_s, accepted):
    """docs/protocol.md: UTC offsets lie within +/-64800 s, so a day key's local midnight is within that of its
    UTC midnight."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(20, walk_s=10)
    data = board.store.read(1)
    key = store.record_at(data, 0)[2]
    record = summary_starting(data, key * 86400 + from_midnight_utc_s)
    if accepted:
        db.save_record(conn, "board-a", 1, record, 1, 0, SYNCED_S)
    else:
        with pytest.raises(ValueError, match=f"seq 1: day key {key} but start_s"):
            db.save_record(conn, "board-a", 1, record, 1, 0, SYNCED_S)
    assert conn.execute("SELECT count(*) FROM records").fetchone() == (int(accepted),)


@pytest.mark.parametrize("clock_behind_s, accepted", [(86399, True), (86400, True), (86401, False)])
def test_a_day_may_start_up_to_a_day_after_the_computers_clock(tmp_path, conn, clock_behind_s, accepted):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(20, walk_s=10)
    data = board.store.read(1)
    start_s = struct.unpack_from("<I", data, store.HEADER_BYTES)[0]
    if accepted:
        db.save_record(conn, "board-a", 1, data, 1, 0, start_s - clock_behind_s)
    else:
        with pytest.raises(ValueError, match="starts after this computer's clock plus one day"):
            db.save_record(conn, "board-a", 1, data, 1, 0, start_s - clock_behind_s)


def test_a_summary_without_its_minutes_still_counts_and_minutes_are_never_dropped(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(30, walk_s=60, steps=100, pace=2)
    full = board.store.read(1)
    summary_only = full[:store.record_at(full, 0)[5]]
    db.save_record(conn, "board-b", 1, summary_only, 1, 0, SYNCED_S)  # board-b's device had dropped the detail
    db.save_record(conn, "board-a", 1, full, 1, 0, SYNCED_S)
    db.save_record(conn, "board-a", 1, summary_only, 1, 0, SYNCED_S)  # dropped after we had it: we keep ours
    day_b = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), "board-b")[0]
    day_a = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), "board-a")[0]
    assert day_a["walking_min"] == day_b["walking_min"] == 30 and day_b["pace_min"]["moderate"] == 30
    assert conn.execute("SELECT count(*) FROM minutes WHERE device_id = 'board-a'").fetchone() == (30,)


def test_the_latest_loss_report_is_kept(conn):
    report = {"boot_id": 3, "acked_seq": 10, "lost_detail": 2, "lost_summary": 0, "quarantined": 1,
              "failed_writes": 0}
    db.save_losses(conn, "board-a", report, 100)
    db.save_losses(conn, "board-a", {**report, "lost_detail": 5}, 200)
    assert db.losses(conn) == [{"device_id": "board-a", "epoch_s": 200, "lost_detail": 5, "lost_summary": 0,
                                "quarantined": 1, "failed_writes": 0}]


def test_a_loss_once_reported_stays_when_a_rollback_takes_the_counters_back(conn):
    # The device's counters live in its state record, which a flash rollback returns to an older revision:
    # the next report can be lower than the last. Each counter keeps its largest value; the rest is the latest.
    before = {"boot_id": 3, "acked_seq": 10, "lost_detail": 5, "lost_summary": 2, "quarantined": 1, "failed_writes": 4}
    db.save_losses(conn, "board-a", before, 100)
    rolled_back = {"boot_id": 4, "acked_seq": 12, "lost_detail": 3, "lost_summary": 3, "quarantined": 0,
                   "failed_writes": 0}
    db.save_losses(conn, "board-a", rolled_back, 200)
    assert db.losses(conn) == [{"device_id": "board-a", "epoch_s": 200, "lost_detail": 5, "lost_summary": 3,
                                "quarantined": 1, "failed_writes": 4}]
    assert conn.execute("SELECT boot_id, acked_seq FROM losses").fetchone() == (4, 12)
    db.save_losses(conn, "board-a", {**rolled_back, "lost_detail": 7}, 300)
    assert db.losses(conn)[0]["lost_detail"] == 7


def relisted(data, seq):
    """DayStore.read bytes of a record as a device lists it again under another seq (a store reset,
    firmware that lists a day twice): the same records, seq rewritten, checksums made good."""
    out, offset = bytearray(), 0
    while offset < len(data):
        end = store.record_at(data, offset)[5]
        record = bytearray(data[offset:end])
        struct.pack_into("<I", record, 8, seq)
        body_end = len(record) - store.CRC_BYTES
        struct.pack_into("<I", record, body_end, zlib.crc32(record[:body_end]))
        out += record
        offset = end
    return bytes(out)


def test_one_day_under_two_seqs_is_counted_once(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.day(walking=[(100, 60, 110, 2), (40, 60, 120, 3)], worn_min=700, bout_s=3000, minutes=720)
    full = board.store.read(1)  # 720 minutes: the day is still open, every minute on flash
    summary_only = full[:store.record_at(full, 0)[5]]
    for device_id, copies in (("both-full", (full, relisted(full, 7))),
                              ("summary-later", (full, relisted(summary_only, 7))),
                              ("summary-first", (summary_only, relisted(full, 7))),
                              ("summaries", (summary_only, relisted(summary_only, 7)))):
        for seq, data in zip((1, 7), copies):
            db.save_record(conn, device_id, seq, data, 1, 0, SYNCED_S)
        day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), device_id)[0]
        assert (day["steps"], day["walking_min"], day["bouts"], day["longest_bout_s"], day["worn_min"]) == (
            100 * 110 + 40 * 120, 140, 1, 3000, 700), device_id
        assert day["pace_min"]["moderate"] == 100 and day["pace_min"]["brisk"] == 40, device_id
    assert db.quarantined(conn) == []


def test_a_newer_copy_of_a_day_wins_each_minute_it_holds(tmp_path, conn):
    older = Board(tmp_path / "older", epoch(2026, 1, 5, 7))
    older.set_clock()
    older.minutes(60, walk_s=20, steps=30, pace=1)  # 07:00 - 08:00
    newer = Board(tmp_path / "newer", epoch(2026, 1, 5, 7, minute=30))
    newer.set_clock()
    newer.minutes(30, walk_s=50, steps=90, pace=2)  # 07:30 - 08:00, the same day listed again
    db.save_record(conn, "board-a", 9, relisted(newer.store.read(1), 9), 1, 0, SYNCED_S)
    db.save_record(conn, "board-a", 3, relisted(older.store.read(1), 3), 1, 0, SYNCED_S)  # saved last, still older
    rows = db.minute_rows(conn, "board-a")
    assert len(rows) == 60
    assert [r[2:5] for r in rows[:30]] == [(20, 30, 1)] * 30 and [r[2:5] for r in rows[30:]] == [(50, 90, 2)] * 30
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert day["steps"] == 30 * 30 + 30 * 90 and day["walking_min"] == 30 * 20 / 60 + 30 * 50 / 60


def test_parts_of_a_day_split_by_a_reboot_add_up(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(20, walk_s=60, steps=100, pace=2)
    board.store.record_bout(1200)
    board.minutes(10)
    board = board.reboot()
    board.minutes(5)  # no clock: a segment
    board.set_clock()  # a sync: the day again, under a new seq, from 07:35
    board.minutes(15, walk_s=60, steps=110, pace=2)
    board.store.record_bout(900)
    board.minutes(10)
    board.sync(conn)
    assert conn.execute("SELECT seq, segment FROM records ORDER BY seq").fetchall() == [(1, 0), (2, 1), (3, 0)]
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert (day["steps"], day["walking_min"], day["bouts"], day["longest_bout_s"]) == (
        20 * 100 + 15 * 110, 35, 2, 1200)


def test_a_bad_minutes_record_or_a_day_that_cannot_be_is_refused_in_one_whole_line(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(20, walk_s=10)
    full = board.store.read(1)
    summary_end = store.record_at(full, 0)[5]
    summary, day = full[:summary_end], store.record_at(full, 0)[2]
    for record, error in [
            # a walking-minute token (< 0x40) first, with no active minute before it
            (summary + store.pack_record(store.KIND_MINUTES, 0, day, 1, b"\0\0" + bytes([0x05, 0x10])),
             "seq 1: walking minute token 0x05 at byte 0: not after an active minute"),
            (summary + store.pack_record(store.KIND_MINUTES, 0, day, 1, b"\0"),  # no first minute
             f"seq 1: the record after the summary is not its minutes record (kind 2, key {day}, seq 1, 2 records)"),
            (full + store.pack_record(store.KIND_MINUTES, 0, day, 1, b"\0\0"),  # a third record
             f"seq 1: the record after the summary is not its minutes record (kind 2, key {day}, seq 1, 3 records)"),
            (summary + store.pack_record(store.KIND_MINUTES, 0, day + 1, 1, b"\0\0"),
             f"seq 1: the record after the summary is not its minutes record (kind 2, key {day + 1}, seq 1, "
             "2 records)"),
            (summary + store.pack_record(store.KIND_MINUTES, 1, day, 1, b"\0\0"),  # the summary is no segment
             f"seq 1: the record after the summary is not its minutes record (kind 2, key {day}, seq 1, 2 records)")]:
        with pytest.raises(ValueError) as refused:
            db.save_record(conn, "board-a", 1, record, 1, 0, SYNCED_S)
        assert str(refused.value) == error
    start_s = struct.unpack_from("<I", full, store.HEADER_BYTES)[0]
    wrong_key = summary_starting(full, (day + 2) * 86400)  # start two days after the key's midnight
    with pytest.raises(ValueError) as refused:
        db.save_record(conn, "board-a", 1, wrong_key, 1, 0, SYNCED_S)
    assert str(refused.value) == (f"seq 1: day key {day} but start_s {(day + 2) * 86400}, not that day's local "
                                  "midnight at any UTC offset within 64800 s; the record is damaged")
    with pytest.raises(ValueError) as refused:
        db.save_record(conn, "board-a", 1, full, 1, 0, start_s - 86401)
    assert str(refused.value) == ("seq 1: day 2026-01-05 starts after this computer's clock plus one day; check the "
                                  "computer's and the board's clocks and sync again")
    assert conn.execute("SELECT count(*) FROM records").fetchone() == (0,)
    db.save_record(conn, "board-a", 1, full, 1, 0, SYNCED_S)
    other = Board(tmp_path / "wiped", epoch(2026, 2, 1, 7))  # the store was wiped: seq 1 is another day
    other.set_clock()
    other.minutes(3)
    other_day = store.record_at(other.store.read(1), 0)[2]
    with pytest.raises(ValueError) as refused:
        db.save_record(conn, "board-a", 1, other.store.read(1), 1, 0, SYNCED_S)
    assert str(refused.value) == (f"seq 1 of device board-a: stored as key {day}, now key {other_day}; was the "
                                  "device's store wiped? sync it into a new database (--db)")


def test_two_devices_on_one_walk_count_its_bouts_once_and_the_larger_minutes(tmp_path, conn):
    a = Board(tmp_path / "a", epoch(2026, 1, 5, 7), "board-a")
    b = Board(tmp_path / "b", epoch(2026, 1, 5, 7), "board-b")
    for board in (a, b):
        board.set_clock()
    a.minutes(20, walk_s=60, steps=100, pace=2)
    a.store.record_bout(1200)
    a.minutes(10, walk_s=30, steps=40, pace=1)
    a.store.record_bout(600)
    b.minutes(20, walk_s=50, steps=90, pace=2)  # worn on the other wrist: the same 20 minutes, seen less
    b.store.record_bout(1500)
    for board in (a, b):
        db.save_record(conn, board.device_id, 1, board.store.read(1), 1, 0, SYNCED_S)
    day = db.day_totals(conn, OSLO)[datetime.date(2026, 1, 5)].numbers()
    # each minute from the device that saw more walking in it; the bouts of the device that counted more, the
    # longest either saw (one walk seen by two devices is one bout)
    assert (day["steps"], day["walking_min"], day["pace_min"]["moderate"], day["pace_min"]["slow"]) == (
        20 * 100 + 10 * 40, (20 * 60 + 10 * 30) / 60, 20, 10)
    assert (day["bouts"], day["longest_bout_s"], day["recorded_min"]) == (2, 1500, 30)
    assert [r[1] for r in db.minute_rows(conn)] == ["board-a"] * 30
    only_b = db.day_totals(conn, OSLO, "board-b")[datetime.date(2026, 1, 5)].numbers()
    assert (only_b["steps"], only_b["bouts"], only_b["longest_bout_s"]) == (20 * 90, 1, 1500)


def test_a_records_bouts_belong_to_the_day_of_its_minutes_across_midnight(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 23))
    board.set_clock()
    board.minutes(60, walk_s=60, steps=110, pace=2)  # 23:00-24:00, the last hour of Monday's record
    board.store.record_bout(900)
    board.minutes(60, walk_s=40, steps=70, pace=1)  # 00:00-01:00, Tuesday's record
    board.store.record_bout(300)
    board.store.record_bout(120)
    board.sync(conn)
    totals = db.day_totals(conn, OSLO)
    monday, tuesday = (totals[datetime.date(2026, 1, d)].numbers() for d in (5, 6))
    assert (monday["steps"], monday["bouts"], monday["longest_bout_s"]) == (60 * 110, 1, 900)
    assert (tuesday["steps"], tuesday["bouts"], tuesday["longest_bout_s"]) == (60 * 70, 2, 300)
    # from 00:30 on Tuesday: Monday's minutes and its record are out, Tuesday's record (its middle 00:29:30) too
    since = db.day_totals(conn, OSLO, since_epoch_s=epoch(2026, 1, 6, 0, minute=30))
    assert list(since) == [datetime.date(2026, 1, 6)]
    assert (since[datetime.date(2026, 1, 6)].steps, since[datetime.date(2026, 1, 6)].bouts) == (30 * 70, 0)
    until = db.day_totals(conn, OSLO, until_epoch_s=epoch(2026, 1, 6, 0, minute=30))
    assert (until[datetime.date(2026, 1, 5)].bouts, until[datetime.date(2026, 1, 6)].bouts) == (1, 2)
    assert until[datetime.date(2026, 1, 6)].steps == 30 * 70
    # a record is in from the instant of its middle on, and out before it
    middle = epoch(2026, 1, 6, 0, minute=29) + 30
    assert db.day_totals(conn, OSLO, since_epoch_s=middle)[datetime.date(2026, 1, 6)].bouts == 2
    assert db.day_totals(conn, OSLO, until_epoch_s=middle)[datetime.date(2026, 1, 6)].bouts == 0
    # Monday's record is its minutes' (its middle 23:29:30), not its day's middle
    evening = db.day_totals(conn, OSLO, since_epoch_s=epoch(2026, 1, 5, 18))[datetime.date(2026, 1, 5)]
    assert (evening.steps, evening.bouts, evening.longest_bout_s) == (60 * 110, 1, 900)


def test_walking_without_a_bout_is_no_bout_and_no_longest(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(5, walk_s=8, steps=12, pace=1)  # steps here and there, never 10 s of walking at once
    board.sync(conn)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert (day["steps"], day["bouts"], day["longest_bout_s"]) == (5 * 12, 0, 0)


def test_of_a_days_summaries_alone_the_newest_stands_in(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(10, walk_s=60, steps=100, pace=2)
    early = board.store.read(1)
    board.minutes(20, walk_s=60, steps=120, pace=3)
    late = board.store.read(1)  # the open day, grown
    summary = lambda data: data[:store.record_at(data, 0)[5]]  # noqa: E731 - the device dropped the minutes
    db.save_record(conn, "board-a", 4, relisted(summary(early), 4), 1, 0, SYNCED_S)
    db.save_record(conn, "board-a", 9, relisted(summary(late), 9), 1, 0, SYNCED_S)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert (day["steps"], day["walking_min"], day["pace_min"]["brisk"], day["recorded_min"]) == (
        10 * 100 + 20 * 120, 30, 20, 30)
    assert not day["estimated"]  # placed by the clock


def test_a_summary_copy_overlaps_a_copy_holding_only_minute_0(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 0))
    board.set_clock()
    board.minute(walk_s=60, steps=100, pace=2)  # 00:00, the day's minute 0 only
    board.store.record_bout(60)
    full = board.store.read(1)
    db.save_record(conn, "board-a", 1, full, 1, 0, SYNCED_S)
    db.save_record(conn, "board-a", 7, relisted(full[:store.record_at(full, 0)[5]], 7), 1, 0, SYNCED_S)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert (day["steps"], day["bouts"], day["longest_bout_s"]) == (100, 1, 60)


def test_two_devices_tied_on_a_minutes_walking_give_the_first_by_id_whole(tmp_path, conn):
    for device_id, steps, pace in (("board-b", 90, 2), ("board-a", 70, 1)):
        board = Board(tmp_path / device_id, epoch(2026, 1, 5, 7), device_id)
        board.set_clock()
        board.minutes(3, walk_s=40, steps=steps, pace=pace)
        db.save_record(conn, device_id, 1, board.store.read(1), 1, 0, SYNCED_S)
    assert [r[1:5] for r in db.minute_rows(conn)] == [("board-a", 40, 70, 1)] * 3


def test_copies_sharing_one_minute_are_one_walk_and_copies_apart_add_up(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(30, walk_s=60, steps=100, pace=2)  # 07:00-07:30
    board.store.record_bout(1800)
    first = board.store.read(1)
    later = Board(tmp_path / "later", epoch(2026, 1, 5, 7, minute=29))  # the same day listed again from 07:29
    later.set_clock()
    later.minutes(11, walk_s=60, steps=100, pace=2)
    later.store.record_bout(600)
    later.store.record_bout(60)
    db.save_record(conn, "board-a", 1, first, 1, 0, SYNCED_S)
    db.save_record(conn, "board-a", 5, relisted(later.store.read(1), 5), 1, 0, SYNCED_S)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert (day["recorded_min"], day["bouts"], day["longest_bout_s"]) == (40, 2, 1800)
    apart = Board(tmp_path / "apart", epoch(2026, 1, 5, 7, minute=30))  # from 07:30: no minute shared
    apart.set_clock()
    apart.minutes(10, walk_s=60, steps=100, pace=2)
    apart.store.record_bout(600)
    db.save_record(conn, "board-b", 5, relisted(first, 5), 1, 0, SYNCED_S)  # the later seq holds the earlier part
    db.save_record(conn, "board-b", 1, apart.store.read(1), 1, 0, SYNCED_S)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), "board-b")[0]
    assert (day["recorded_min"], day["bouts"], day["longest_bout_s"]) == (40, 2, 1800)
    third = Board(tmp_path / "third", epoch(2026, 1, 5, 7, minute=45))  # 07:45, after both
    third.set_clock()
    third.minutes(5, walk_s=60, steps=100, pace=2)
    third.store.record_bout(300)
    for seq, data in ((1, first), (2, relisted(later.store.read(1), 2)), (3, relisted(third.store.read(1), 3))):
        db.save_record(conn, "board-c", seq, data, 1, 0, SYNCED_S)
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5), "board-c")[0]
    assert (day["recorded_min"], day["bouts"], day["longest_bout_s"]) == (45, 2 + 1, 1800)


def test_a_summary_placed_by_estimate_flags_its_day(tmp_path, conn):
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(60, walk_s=30, steps=40, pace=1)  # 07:00-08:00, day record (seq 1)
    board = board.reboot()
    board.minutes(40, walk_s=60, steps=100, pace=2)  # 08:00-08:40 (seq 2), never synced: placed by estimate
    board.ms += 20 * 60_000
    board = board.reboot()  # boot 3 at 09:00
    board.minutes(15)  # seq 3
    info = {"device_id": "board-a", "board": "cpython", "firmware": "test", "battery_mv": 3900,
            "boot_id": board.store.boot_id, "uptime_s": board.clock.uptime_ms() // 1000, "clock_set": False}
    db.save_device(conn, info, board.world_s)
    for seq, _, _ in board.store.unsynced():
        data = board.store.read(seq)
        if seq > 1:  # the device had dropped the minutes of seqs 2 and 3
            data = data[:store.record_at(data, 0)[5]]
        db.save_record(conn, "board-a", seq, data, info["boot_id"], info["uptime_s"], board.world_s)
    assert [how for _, how in placed(conn).values()] == ["clock", "estimated", "current_boot"]
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert day["estimated"] and day["walking_min"] == 30 + 40 and day["steps"] == 60 * 40 + 40 * 100


def test_a_minutes_record_of_no_minute_yet_is_a_valid_empty_one(tmp_path, conn):
    """docs/store-format.md: a minutes record is a u16 first_minute, then minute tokens; none is no minute."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(3, walk_s=10)
    full = board.store.read(1)
    summary, day = full[:store.record_at(full, 0)[5]], store.record_at(full, 0)[2]
    db.save_record(conn, "board-a", 1, summary + store.pack_record(store.KIND_MINUTES, 0, day, 1, b"\x05\0"), 1, 0,
                   SYNCED_S)
    assert conn.execute("SELECT has_minutes FROM records").fetchall() == [(1,)]
    assert conn.execute("SELECT count(*) FROM minutes").fetchone() == (0,)


def test_estimates_report_the_least_certain_in_whole_minutes_and_plan_changes_keep_the_first_settings(conn):
    conn.executemany("INSERT INTO estimates VALUES (?, ?, ?)", [("board-a", 2, 1200), ("board-a", 3, 3600)])
    assert db.estimates(conn) == [{"device_id": "board-a", "records": 2, "uncertainty_min": 60}]
    db.save_plan(conn, 60, 5, None, from_date="2026-01-10", before=(90, 5, None))
    db.save_plan(conn, 70, 5, None, from_date="2026-02-01", before=(60, 5, None))  # the first settings stay
    assert db.plan_changes(conn) == [(db.ALWAYS, 90, 5, None), ("2026-01-10", 60, 5, None), ("2026-02-01", 70, 5, None)]


def unanchored_after_a_day(tmp_path, conn, idle_min):
    """Boot 1 records 07:00-08:00 by its clock (seq 1); a reset starts boot 2 at 08:00 without one, whose
    first idle_min minutes hand the store nothing, then 40 minutes of walking (seq 2); boot 3 comes 20
    minutes after and is synced (the sync is the caller's)."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(60, walk_s=30, steps=40, pace=1)
    board = board.reboot()
    board.ms += idle_min * 60_000
    board.minutes(40, walk_s=60, steps=100, pace=2)
    board.ms += 20 * 60_000
    board = board.reboot()
    board.minutes(15)
    return board


def test_an_unanchored_boot_whose_first_minutes_have_no_record_is_chained_by_its_first_recorded_minute(
        tmp_path, conn):
    unanchored_after_a_day(tmp_path, conn, idle_min=5).sync(conn)
    # seq 2's first minute is its minute 5, and starts a lost-at-cut after seq 1 ends (08:05): minute 0 at 08:00
    assert placed(conn)[2] == (epoch(2026, 1, 5, 8), "estimated")
    seq2_minutes = [60 * r[0] for r in db.minute_rows(conn) if r[2] == 60]
    assert seq2_minutes == [epoch(2026, 1, 5, 8, minute=5 + m) for m in range(40)]


def test_an_unanchored_record_whose_minutes_the_device_dropped_is_chained_from_its_minute_0(tmp_path, conn):
    unanchored_after_a_day(tmp_path, conn, idle_min=0).sync(conn, minutes_dropped=(2,))
    assert placed(conn)[2] == (epoch(2026, 1, 5, 8) + placement.LOST_AT_CUT_S, "estimated")
    day = db.days(conn, OSLO, datetime.date(2026, 1, 5), datetime.date(2026, 1, 5))[0]
    assert day["estimated"] and day["walking_min"] == 30 + 40

def test_a_seq_equal_to_a_segment_key_never_splits_an_unanchored_boot(tmp_path, conn):
    start = epoch(2026, 1, 5, 6)
    board = Board(tmp_path / "dev", start)
    board.minutes(1440 + 30 + 5, walk_s=60, steps=110, pace=2)  # boot 1: two parts, keys 1 << 8 | 0 and | 1
    board = board.reboot()
    board.sync(conn)  # seqs 1 and 2; boot 2 is known
    for _ in range(254):  # a minute a day: day records seq 3 to 256, synced by another computer
        board.minute()
        board.ms += 86_400_000 - 60_000
    for seq, _, _ in board.store.unsynced():
        board.store.ack(seq)
    board.minute()
    board.sync(conn)  # seq 257, the number of boot 1's second part's key
    assert max(placed(conn)) == 257 and placed(conn)[257][1] == "clock"
    assert {seq: placed(conn)[seq] for seq in (1, 2)} == {1: (start, "estimated"), 2: (start + 86400, "estimated")}


def clock_set_back(tmp_path, conn, boot_s, slow_s, set_minutes):
    """Boot 1 (seq 1, 06:00-06:20, idle) is never synced; boot 2 from 07:00 and boot_s seconds walks 40
    minutes (seq 2, a segment) and is synced here; then a computer whose clock is slow_s slow sets the clock
    and set_minutes more of walking go into a day record (seq 3) that lies over seq 2."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 6))
    board.minutes(20)
    board.ms += 40 * 60_000 + boot_s * 1000
    board = board.reboot()
    board.minutes(40, walk_s=60, steps=100, pace=2)
    board.sync(conn)
    board.clock.set_time(board.world_s - slow_s, 3600)
    board.minutes(set_minutes, walk_s=60, steps=100, pace=2)
    board.sync(conn)
    return board


@pytest.mark.parametrize("boot_s, slow_s, set_minutes, kept, set_aside", [
    # seq 2 07:00:30-07:40:30, seq 3 07:36-08:16: seq 3's minute 456 (07:36) lands on seq 2's minute 36
    (30, 5 * 60, 40, 2, "3: minute 456 overlaps seq 2"),
    # seq 3 07:00-07:40 starts 30 s before seq 2 (07:00:30): seq 2's minute 0 lands on seq 3's minute 420
    (30, 41 * 60, 40, 3, "2: minute 0 overlaps seq 3"),
    # both start at 07:00; seq 3 ends a minute earlier (07:39), so it comes first
    (0, 40 * 60, 39, 3, "2: minute 0 overlaps seq 3")])
def test_of_two_records_overfilling_a_minute_the_one_starting_first_is_kept(
        tmp_path, conn, boot_s, slow_s, set_minutes, kept, set_aside):
    clock_set_back(tmp_path, conn, boot_s, slow_s, set_minutes)
    assert [f"{q['seq']}: {q['reason']}" for q in db.quarantined(conn)] == [
        set_aside + " and would hold 120 s of walking in one minute (at most 60)"]
    assert placed(conn)[1][1] == "estimated" and placed(conn)[kept][0] is not None
    walked_min = 40 if kept == 2 else set_minutes
    assert db.day_totals(conn, OSLO)[datetime.date(2026, 1, 5)].walk_s == 60 * walked_min


def test_a_record_overfilling_two_copies_of_a_day_is_set_aside_once(tmp_path, conn):
    board = clock_set_back(tmp_path, conn, 30, 41 * 60, 40)
    db.save_record(conn, "board-a", 9, relisted(board.store.read(3), 9), board.store.boot_id,
                   board.clock.uptime_ms() // 1000, board.world_s)  # the day listed again (a store reset)
    assert [(q["seq"], q["reason"]) for q in db.quarantined(conn)] == [
        (2, "minute 0 overlaps seq 3 and would hold 120 s of walking in one minute (at most 60)")]
    assert db.day_totals(conn, OSLO)[datetime.date(2026, 1, 5)].walk_s == 60 * 40
