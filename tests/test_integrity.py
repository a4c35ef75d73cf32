"""The integrity rules a sync and the database stand on, each shown breaking the way a device, a cable
or a clock could break it: a record that does not match its CRC, a list that repeats a seq, an
overlong line, a minute fetched again, a seq re-used across a wipe, a file left readable, a day
longer than 24 hours. Truth from docs/protocol.md, docs/db-schema.md and docs/store-format.md."""
import datetime
import os
import stat
import struct
import zoneinfo

import pytest

from link_harness import Cable, week_of_walking
from test_db import Board, epoch
from test_protocol import limit
from walkdose import db, protocol
from walkdose.firmware import link as wire
from walkdose.firmware import store
from walkdose.firmware.clock import Clock, days_from_civil


class Tampering(Cable):
    """A cable over which the device's answers to one command are rewritten, then sealed again with a
    good frame CRC: what a device with a bug would send, intact on the line."""

    def __init__(self, board, command, rewrite):
        super().__init__(board)
        self.response = command | wire.RESPONSE
        self.rewrite = rewrite
        self.partial = b""

    def _from_device(self, data):
        self.partial += data
        while b"\n" in self.partial:
            line, self.partial = self.partial.split(b"\n", 1)
            version, command, status, tag, payload = protocol.decode_line(line[1:])
            if command == self.response:
                payload = self.rewrite(payload)
            super()._from_device(protocol.encode_frame(command, tag, payload, version, status))


# ---- the sync protocol (docs/protocol.md) ------------------------------------------------------

def test_a_record_whose_chunks_arrive_intact_but_miss_their_data_crc_is_refused(tmp_path):
    """'accepts them only if ... the joined bytes match data_crc': here every chunk carries the same
    total and data_crc, and the bytes are valid store records of the seq, but not the ones the CRC is of."""
    board = week_of_walking(tmp_path / "flash")

    def wrong_crc(payload):
        seq, total, data_crc, offset = struct.unpack_from(wire.FETCH_HEAD, payload)
        return struct.pack(wire.FETCH_HEAD, seq, total, data_crc ^ 1, offset) + payload[wire.FETCH_HEAD_BYTES:]

    seq = protocol.Client(Cable(board)).list()[0][0]
    assert store.parse_records(protocol.Client(Cable(board)).fetch(seq))[0]  # the record itself is good
    with pytest.raises(protocol.ProtocolError, match=f"seq {seq} changed while it was read"):
        protocol.Client(Tampering(board, wire.FETCH, wrong_crc)).fetch(seq)


def test_a_list_that_names_a_seq_twice_is_refused(tmp_path):
    """'oldest first': seqs ascend strictly, so a repeated seq is a broken list, not two records."""
    board = week_of_walking(tmp_path / "flash")

    def first_entry_twice(payload):
        more, count = struct.unpack_from(wire.LIST_HEAD, payload)
        first = payload[2:2 + wire.LIST_ENTRY_BYTES]
        return struct.pack(wire.LIST_HEAD, more, count + 1) + first + payload[2:]

    entries = protocol.Client(Cable(board)).list()
    assert [seq for seq, _, _ in entries] == sorted({seq for seq, _, _ in entries})
    with pytest.raises(protocol.ProtocolError, match=f"seq {entries[0][0]} is not above {entries[0][0]}"):
        protocol.Client(Tampering(board, wire.LIST, first_entry_twice)).list()


def test_a_response_line_is_taken_up_to_its_limit_and_not_one_byte_past():
    """Limits table: a response payload of 512 bytes is a line of 1,048 characters; one more byte
    makes an overlong line, discarded as a whole."""
    payload_bytes = limit("response payload")
    for extra, decoded in ((-1, True), (0, True), (1, False)):
        payload = bytes(range(256)) * 3
        line = protocol.encode_frame(wire.FETCH | wire.RESPONSE, 7, payload[:payload_bytes + extra])
        assert len(line) == limit("response line") + 2 * extra
        frame = protocol.decode_line(line[1:-1])
        assert (frame is not None) == decoded
        if decoded:
            assert frame == (1, wire.FETCH | wire.RESPONSE, 0, 7, payload[:payload_bytes + extra])


class OneAnswer:
    """A port that answers every request with the same response line, whatever its tag, after it."""

    timeout = 0.01

    def __init__(self, payload):
        self.payload = payload
        self.pending = bytearray()

    def write(self, data):
        tag = struct.unpack_from("<H", bytes.fromhex(data[1:-1].decode()), 3)[0]
        self.pending += protocol.encode_frame(wire.LOSSES | wire.RESPONSE, tag, self.payload)

    def read(self, n=1):
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data


def test_the_client_hears_no_answer_in_an_overlong_response():
    losses = struct.pack(wire.LOSSES_RESPONSE, *range(9))
    assert protocol.Client(OneAnswer(losses), response_timeout_s=0.05).losses()["discarded_frames"] == 8
    overlong = OneAnswer(losses + bytes(limit("response payload") + 1 - len(losses)))
    with pytest.raises(protocol.NoAnswer):
        protocol.Client(overlong, response_timeout_s=0.05, attempts=1).losses()


# ---- the database (docs/db-schema.md, 'Saving a record') ----------------------------------------

def test_a_minute_fetched_again_replaces_the_stored_copy_and_stays_one_row(tmp_path, conn):
    """The host's clock was 5 minutes fast: the minutes lived twice are combined on the device
    (walk_s summed), and the re-fetched record's values win in the database, one row a minute."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.sync(conn, fetch=False)
    board.minutes(10, walk_s=20, steps=30, pace=1)
    board.sync(conn)
    board.clock.set_time(board.world_s - 300, 3600)  # CET, no change due before the next sync
    board.minutes(5, walk_s=20, steps=30, pace=1)
    board.sync(conn)
    rows = db.minute_rows(conn, "board-a")
    assert [(walk_s, steps) for _, _, walk_s, steps, _, _, _ in rows] == [(20, 30)] * 5 + [(40, 60)] * 5
    assert conn.execute("SELECT COUNT(*) FROM minutes").fetchone()[0] == 10


def summary_only(seq, key, flags, start_s):
    """DayStore.read(seq) of a record whose minutes the device dropped: one summary record, 300
    walking seconds in 5 slow minutes, 600 worn of 720 recorded."""
    payload = struct.pack(store.SUMMARY, start_s, 500, 300, 5, 0, 0, 1, 300, 600, 720)
    if flags & store.FLAG_SEGMENT:
        payload += struct.pack(store.ANCHOR, store.NO_ANCHOR, store.NO_ANCHOR)
    return store.pack_record(store.KIND_SUMMARY, flags, key, seq, payload)


def test_a_seq_stored_as_a_day_that_comes_back_as_a_segment_of_the_same_key_is_refused(conn):
    """A wiped device numbers records from 1 again; its segment key (boot_id << 8 | part) can equal a
    stored day's key, and only the segment flag tells them apart."""
    day = days_from_civil(2026, 1, 5)
    boot_id, part = day >> 8, day & 0xFF
    db.save_record(conn, "board-a", 3, summary_only(3, day, 0, epoch(2026, 1, 5, 0)), 1, 100, epoch(2026, 1, 6, 8))
    segment = summary_only(3, boot_id << 8 | part, store.FLAG_SEGMENT, 0)
    with pytest.raises(ValueError, match="seq 3 of device board-a: stored as key"):
        db.save_record(conn, "board-a", 3, segment, boot_id, 100, epoch(2026, 1, 6, 9))
    assert conn.execute("SELECT segment FROM records").fetchall() == [(0,)]


def test_an_existing_empty_database_file_is_made_private(tmp_path):
    """'created with file mode 0600': also when the empty file was there first, made by a tool with a
    looser umask (touch, an editor)."""
    path = tmp_path / "touched.sqlite"
    path.touch()
    os.chmod(path, 0o644)
    db.open_db(str(path)).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---- the day store (docs/store-format.md) --------------------------------------------------------

def recorded_day(board, seq):
    """(summary values, {minute: (walk_s, steps, pace, movement_code)}) of a record, read back the way
    the host decodes it."""
    summary, minutes = store.parse_records(board.store.read(seq))[0]
    slots = store.minute_slots()
    store.decode_minutes(minutes[4][2:], struct.unpack_from("<H", minutes[4])[0], slots)
    values = {m: store.minute_values(slots, m) for m in range(store.MAX_MINUTES)}
    return struct.unpack_from(store.SUMMARY, summary[4]), {m: v for m, v in values.items() if v}


def test_a_25_hour_fall_back_day_keeps_all_1500_minutes_each_its_own(tmp_path):
    board = Board(tmp_path / "dev", epoch(2026, 10, 25, 0))
    board.set_clock()
    board.minutes(1499, movement_mg=30)
    board.minute(walk_s=45, steps=70, pace=2, movement_mg=200)  # 23:59 CET, the day's 1,500th minute
    (seq, key, _), = board.store.unsynced()
    assert key == days_from_civil(2026, 10, 25)
    summary, minutes = recorded_day(board, seq)
    assert len(minutes) == summary[-1] == 1500
    assert minutes[1499][:3] == (45, 70, 2) and minutes[1498][:3] == (0, 0, 0)


def test_a_26_hour_day_folds_its_last_hour_into_the_last_minute_instead_of_dropping_it(tmp_path):
    """Troll station (Antarctica) falls back two hours, UTC+2 to UTC+0: a local day of 1,560 minutes
    in a store of 1,500 slots. The walk in its last hour must not vanish."""
    troll = zoneinfo.ZoneInfo("Antarctica/Troll")
    day = days_from_civil(2026, 10, 25)
    change_s = day * 86400 + 3600  # 01:00 UTC
    assert [datetime.datetime.fromtimestamp(change_s + d, troll).utcoffset().seconds for d in (-1, 0)] == [7200, 0]
    board = Board(tmp_path / "dev", day * 86400 - 7200)  # Troll's midnight: 22:00 UTC on the 24th
    board.clock.set_time(board.world_s, 7200, change_s, 0)
    board.minutes(1530, movement_mg=30)
    board.minute(walk_s=50, steps=80, pace=3, movement_mg=300)  # 23:30 local, the day's minute 1,530
    board.minutes(29, movement_mg=30)
    (seq, _, _), = board.store.unsynced()
    summary, minutes = recorded_day(board, seq)
    assert max(minutes) == 1499 and minutes[1499][:3] == (50, 80, 3)
    assert summary[2] == 50  # walk_s


@pytest.mark.parametrize("movement_mg, worn", [(7, False), (8, True), (9, True), (15, True), (16, True)])
def test_a_minute_is_worn_from_8_mg_in_the_day_summary(tmp_path, movement_mg, worn):
    """Summary table: worn_min counts minutes with movement octave >= 4, i.e. >= 8 mg."""
    board = Board(tmp_path / "dev", epoch(2026, 1, 5, 7))
    board.set_clock()
    board.minutes(3, movement_mg=movement_mg)
    (seq, _, _), = board.store.unsynced()
    summary, _ = recorded_day(board, seq)
    assert summary[-2:] == (3 if worn else 0, 3)


# ---- the clock ------------------------------------------------------------------------------------

def test_a_spring_forward_at_midnight_starts_the_day_at_the_change():
    """Where DST starts at 00:00 (Chile, Lebanon), local midnight does not exist: the day begins at
    the change, 01:00 new time, and has 1,380 minutes counted from there."""
    day = days_from_civil(2026, 3, 29)
    change_s = day * 86400 - 3600  # 00:00 at UTC+1 becomes 01:00 at UTC+2
    ticks = [0]
    clock = Clock(lambda: ticks[0])
    clock.set_time(change_s - 600, 3600, change_s, 7200)
    assert clock.local_midnight_epoch_s(day) == change_s
    ticks[0] = (600 + 30 * 60) * 1000
    assert clock.place() == (True, day, 30, change_s)  # 01:30 new time: 30 minutes into the day
    ticks[0] = (600 + 23 * 3600 - 60) * 1000
    assert clock.place() == (True, day, 1379, change_s)  # 23:59: its last minute


def test_a_boot_lies_where_the_first_sync_that_saw_it_put_it_even_with_nothing_fetched(conn):
    """placement.note_boot: the first exact answer stays; a later sync of the same boot (its uptime a few
    seconds off the host's clock by now) changes nothing."""
    info = {"device_id": "board-a", "board": "cpython", "firmware": "test", "battery_mv": 3900, "boot_id": 4,
            "uptime_s": 100, "clock_set": False}
    db.save_device(conn, info, 1_000_100)
    db.save_device(conn, {**info, "uptime_s": 5000}, 1_005_003)
    assert conn.execute("SELECT device_id, boot_id, base_epoch_s, placement FROM boots").fetchall() == [
        ("board-a", 4, 1_000_000, "current_boot")]


def test_a_segment_fetched_again_with_its_anchor_keeps_it_and_one_without_keeps_the_stored(conn):
    """A segment's anchor (uptime and UTC when a sync set the clock during its boot) is written once the
    clock is set: a copy fetched before has none, a copy fetched after has it; neither loses it."""
    key = 7 << 8 | 1  # boot 7, part 1
    bare = summary_only(2, key, store.FLAG_SEGMENT, 600)
    payload = struct.pack(store.SUMMARY, 600, 500, 300, 5, 0, 0, 1, 300, 600, 720) + struct.pack(
        store.ANCHOR, 4000, epoch(2026, 1, 5, 9))
    anchored = store.pack_record(store.KIND_SUMMARY, store.FLAG_SEGMENT, key, 2, payload)
    anchors = "SELECT anchor_uptime_s, anchor_epoch_s FROM records WHERE seq = 2"
    db.save_record(conn, "board-a", 2, bare, 7, 4000, epoch(2026, 1, 5, 9))
    assert conn.execute(anchors).fetchall() == [(None, None)]
    db.save_record(conn, "board-a", 2, anchored, 7, 4100, epoch(2026, 1, 5, 9) + 100)
    db.save_record(conn, "board-a", 2, bare, 7, 4200, epoch(2026, 1, 5, 9) + 200)
    assert conn.execute(anchors).fetchall() == [(4000, epoch(2026, 1, 5, 9))]
    # its boot lies where the first sync put it, as the current boot: uptime 0 at 09:00 less 4000 s
    base = epoch(2026, 1, 5, 9) - 4000
    assert conn.execute("SELECT boot_id, base_epoch_s, placement FROM boots").fetchall() == [(7, base, "current_boot")]
    assert conn.execute("SELECT start_epoch_s, placement FROM records").fetchall() == [(base + 600, "current_boot")]
