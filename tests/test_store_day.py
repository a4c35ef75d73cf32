"""The day store as the main loop and the sync use it, on CPython over a temporary directory: write
schedule, reboot recovery, midnight, acks, corrupt files, clock changes, DST, eviction."""
import datetime
import errno
import os
import pathlib
import re
import struct

import pytest

from firmware import store
from firmware.clock import TICKS_PERIOD, Clock, days_from_civil
from firmware.store import DayStore

DAY = days_from_civil(2026, 1, 5)
MIDNIGHT = DAY * 86400 - 3600  # UTC epoch of 2026-01-05 00:00 at UTC+1


class Board:
    def __init__(self, root, ms=TICKS_PERIOD - 90_000, capacity_bytes=128 * 1024):
        self.ms = ms
        self.clock = Clock(lambda: self.ms % TICKS_PERIOD)
        self.store = DayStore(str(root), self.clock, capacity_bytes)
        self.store.boot()

    def set_local(self, minute_of_day, day=DAY, offset_s=3600, **dst):
        """Host sync: the clock reads `minute_of_day` of `day`, 30 s into that minute."""
        self.clock.set_time(day * 86400 - offset_s + minute_of_day * 60 + 30, offset_s, **dst)

    def minute(self, walk_s=0, steps=0, pace=0, movement_mg=20):
        """A detector minute, handed over just after it ended."""
        self.ms += 60_000
        self.store.record_minute(walk_s, steps, pace, movement_mg)


def summary_of(store_, seq):
    records, bad = store.parse_records(store_.read(seq))
    assert not bad and [r[0] for r in records] == [store.KIND_SUMMARY, store.KIND_MINUTES]
    return struct.unpack_from(store.SUMMARY, records[0][4]), records


def test_the_tail_is_written_every_ten_minutes_and_stays_inline(tmp_path):
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(9):
        board.minute()
    assert not (tmp_path / "open.t").exists()
    board.minute()
    assert (tmp_path / "open.t").stat().st_size <= store.TAIL_BYTES
    assert not (tmp_path / "open.b").exists()


def test_a_tail_of_128_bytes_stays_inline_and_one_more_byte_goes_to_the_base(tmp_path):
    """docs/store-format.md, 'Files': open.t holds <= 128 bytes; open.b is written when the tail would exceed them.
    A tail is a 44-byte summary, a 20-byte minutes record and its tokens: here 4 bytes for the first walking
    minute (code 40, not 49..79) and 2 for each after it."""
    board = Board(tmp_path)
    board.set_local(-1)
    for _ in range(31):
        board.minute(60, 100, 2, 30)
    board.store.flush()
    assert (tmp_path / "open.t").stat().st_size == 44 + 20 + 4 + 2 * 30 == store.TAIL_BYTES
    assert not (tmp_path / "open.b").exists()
    board.minute(60, 100, 2, 30)
    board.store.flush()
    assert (tmp_path / "open.b").exists() and board.store.base_end == 32


def file_writes(monkeypatch):
    """The names of the files the store opens for writing from now on, in order."""
    written = []

    def open_(path, mode="r"):
        if "w" in mode:
            written.append(os.path.basename(path))
        return open(path, mode)
    monkeypatch.setattr(store, "open", open_, raising=False)
    return written


def test_a_listing_with_nothing_unwritten_writes_nothing(tmp_path, monkeypatch):
    """docs/store-format.md, 'Write schedule': a sync's listing writes the open record only when it has unwritten
    minutes (flash wear is in the count of writes)."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()
    written = file_writes(monkeypatch)
    assert [seq for seq, _, _ in board.store.unsynced()] == [1] and board.store.read(1)
    board.store.flush()
    assert written == []


def test_a_new_tail_goes_through_tmp_and_an_existing_one_is_rewritten_in_place(tmp_path, monkeypatch):
    """docs/store-format.md, 'Files': one metadata commit a tail write instead of three, once open.t exists."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    written = file_writes(monkeypatch)
    for _ in range(2 * store.FLUSH_EVERY_MIN):
        board.minute()
    assert written == ["open.t.tmp", "open.t"]


def test_a_bout_past_the_u16_is_stored_as_its_largest_value(tmp_path):
    """longest_bout_s is a u16: a bout of more than 18 h (only bad input) is stored as 65,535 s."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    board.minute(60, 100, 2, 300)
    board.store.record_bout(70_000)
    board.minute(60, 100, 2, 300)
    assert summary_of(board.store, 1)[0][6:8] == (1, 0xFFFF)


def test_minutes_off_the_wrist_are_written_every_ten_too_and_a_bout_end_at_once(tmp_path):
    board = Board(tmp_path)
    board.set_local(60)  # 01:00, the nightstand: 3 mg is octave 2, below WORN_OCTAVE
    for _ in range(9):
        board.minute(movement_mg=3)
    assert not (tmp_path / "open.t").exists()
    board.minute(movement_mg=3)
    tail = (tmp_path / "open.t").read_bytes()
    assert board.store.unsaved_minutes == 0 and tail
    # The next three still minutes wait; a bout ending makes the minute after it go at once.
    for _ in range(3):
        board.minute(movement_mg=3)
    assert (tmp_path / "open.t").read_bytes() == tail
    board.minute(60, 110, 2, 300)
    board.store.record_bout(75)
    assert (tmp_path / "open.t").read_bytes() == tail
    board.minute(15, 20, 1, 200)
    assert board.store.unsaved_minutes == 0 and (tmp_path / "open.t").read_bytes() != tail
    assert sorted(os.listdir(tmp_path)) == ["open.t", "state"]  # rewritten in place: no .tmp left


def test_a_day_summary_counts_what_was_recorded(tmp_path):
    board = Board(tmp_path)
    board.set_local(8 * 60 - 1)
    board.minute(movement_mg=3)  # 08:00 on the nightstand: recorded, not worn
    for walk_s, steps, pace in ((30, 40, 1), (60, 110, 2), (60, 125, 3), (45, 70, 1)):
        board.minute(walk_s, steps, pace, movement_mg=250)
    board.store.record_bout(195)
    board.minute()
    start_s, steps, walk_s, slow, moderate, brisk, bouts, longest, worn, recorded = summary_of(
        board.store, board.store.open_seq)[0]
    assert start_s == MIDNIGHT
    assert (steps, walk_s, slow, moderate, brisk) == (40 + 110 + 125 + 70, 195, 2, 1, 1)
    assert (bouts, longest, worn, recorded) == (1, 195, 5, 6)
    assert board.store.open_walk_s() == 195  # the board's target cue


def test_a_reboot_keeps_every_written_minute(tmp_path):
    board = Board(tmp_path)
    board.set_local(-1)
    for m in range(95):  # 09:30 worth: base merges and tails
        board.minute(60 if m % 7 == 0 else 0, 90 if m % 7 == 0 else 0, 1 if m % 7 == 0 else 0, 5 + m)
    written = board.store.read(board.store.open_seq)
    reboot = Board(tmp_path)
    assert reboot.store.boot_id == 2
    assert reboot.store.read(reboot.store.open_seq)[:-4] != b""
    before, after = summary_of(board.store, 1)[1], summary_of(reboot.store, 1)[1]
    slots_before, slots_after = bytearray(6000), bytearray(6000)
    store.decode_minutes(before[1][4][2:], 0, slots_before)
    store.decode_minutes(after[1][4][2:], 0, slots_after)
    # Written after minutes 10, 20, ..., 90 (minute 0 is 23:59 of the day before): 90 of 95, 5 in
    # RAM only.
    assert slots_after[:90 * 4] == slots_before[:90 * 4]
    assert not any(slots_after[90 * 4:])
    assert written != reboot.store.read(1)


def test_midnight_closes_the_day_into_packs_and_acks_persist(tmp_path):
    board = Board(tmp_path)
    board.set_local(23 * 60 + 57)
    for _ in range(4):
        board.minute(movement_mg=40)
    assert sorted(os.listdir(tmp_path)) == ["d00000", "s00000", "state"]  # the new day is in RAM only
    assert [(seq, key) for seq, key, flags in board.store.unsynced()] == [(1, DAY), (2, DAY + 1)]
    assert sorted(os.listdir(tmp_path)) == ["d00000", "open.t", "s00000", "state"]  # listed, so on flash
    summary, records = summary_of(board.store, 1)
    assert summary[9] == 2 and records[1][4][:2] == struct.pack("<H", 0)
    board.store.ack(2)  # the open day cannot be acked: clamps to 1
    assert Board(tmp_path).store.acked_seq == 1


def test_a_corrupt_pack_is_quarantined_and_reported_not_fatal(tmp_path):
    board = Board(tmp_path)
    board.set_local(23 * 60 + 55)
    for day in range(3):
        for _ in range(24 * 60):
            board.minute(movement_mg=40)
    pack = tmp_path / "d00000"
    data = bytearray(pack.read_bytes())
    first_end = store.record_at(bytes(data), 0)[5]
    data[first_end + 30] ^= 0x10  # inside the second day's minutes record
    pack.write_bytes(bytes(data))
    reboot = Board(tmp_path)
    assert reboot.store.report()["quarantined"] == 1
    assert reboot.store.quarantine_names() == ["q1.d00000"]
    assert reboot.store.read_quarantine("q1.d00000") == bytes(data)
    written_back, bad_bytes = store.parse_records(pack.read_bytes())
    assert [r[:5] for r in written_back] == [r[:5] for r in store.parse_records(bytes(data))[0]] and bad_bytes == 0
    assert summary_of(reboot.store, 3)[0][9] == 1440
    assert Board(tmp_path).store.report()["quarantined"] == 1  # what was written back is not damaged again


def test_a_corrupt_tail_leaves_the_base(tmp_path):
    board = Board(tmp_path)
    board.set_local(-1)
    for _ in range(60):
        board.minute(60, 100, 2, 300)  # active minutes: the tail overflows, the base is written
    assert (tmp_path / "open.b").exists()
    base_minutes = store.decode_minutes(
        store.parse_records((tmp_path / "open.b").read_bytes())[0][1][4][2:], 0, bytearray(6000))
    (tmp_path / "open.t").write_bytes(b"\xd5garbage")
    reboot = Board(tmp_path)
    assert reboot.store.report()["quarantined"] == 1
    assert reboot.store.base_end == base_minutes and summary_of(reboot.store, 1)[0][9] == base_minutes


def test_a_reboot_joins_the_base_and_the_tail_after_it(tmp_path):
    board = Board(tmp_path)
    board.set_local(-1)
    for m in range(60):
        board.minute(60, 100, 2, 300)  # the tail overflows into the base, then grows again
        if m in (20, 45):
            board.store.record_bout(300 + m)
    board.store.flush()
    assert 0 < board.store.base_end < 60 and board.store.unsaved_minutes == 0
    assert summary_of(board.store, 1)[0][6:8] == (2, 345)
    written = board.store.read(1)
    reboot = Board(tmp_path)
    assert reboot.store.read(1) == written
    reboot.set_local(8 * 60, day=DAY + 1)
    reboot.minute()  # day 1 closes: its base and tail are removed
    assert sorted(os.listdir(tmp_path)) == ["d00000", "s00000", "state"]


def test_of_a_base_and_a_tail_of_two_records_the_newer_is_recovered(tmp_path):
    """An open file of another record than the other one: the record renumbered past a rollback and cut before its
    tail was written (a base newer than the tail), or a base a close could not remove (a tail newer than the base)."""
    board = Board(tmp_path)
    board.set_local(-1)
    for _ in range(60):
        board.minute(60, 100, 2, 300)
    old_tail, old_base = (tmp_path / "open.t").read_bytes(), (tmp_path / "open.b").read_bytes()
    board.store.rolled_back(5)  # renumbered to seq 6: base, then tail written
    renumbered = board.store.read(6)
    (tmp_path / "open.t").write_bytes(old_tail)
    reboot = Board(tmp_path)
    assert reboot.store.open_seq == 6 and reboot.store.read(6) == renumbered
    reboot.set_local(-1, day=DAY + 1)
    for _ in range(store.FLUSH_EVERY_MIN):
        reboot.minute(movement_mg=3)  # seq 6 closes into the packs, seq 7 takes the open files
    (tmp_path / "open.b").write_bytes(old_base)
    again = Board(tmp_path)
    assert again.store.open_seq == 7 and summary_of(again.store, 7)[0][9] == store.FLUSH_EVERY_MIN


def test_an_open_file_whose_minutes_are_of_another_seq_is_quarantined(tmp_path):
    """docs/store-format.md: a day is one summary record and one minutes record of the same seq."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()
    summary, minutes = store.parse_records((tmp_path / "open.t").read_bytes())[0]
    (tmp_path / "open.t").write_bytes(store.pack_record(*summary[:5]) + store.pack_record(*minutes[:3], 2, minutes[4]))
    reboot = Board(tmp_path)
    assert reboot.store.quarantine_names() == ["q1.open.t"] and reboot.store.unsynced() == []


@pytest.mark.parametrize("host_seq", [0, 5])
def test_a_close_cut_short_is_finished_at_the_next_boot(tmp_path, host_seq):
    """docs/store-format.md, 'Recovery at boot': the record is in the newest minutes pack but not yet in the summary
    pack, and its open files are still there: the summary is appended and the open files removed. Past a rollback
    to host_seq 5 the pack's one record is seq 6."""
    board = Board(tmp_path)
    if host_seq:
        board.store.rolled_back(host_seq)
    seq = host_seq + 1
    board.set_local(23 * 60 + 49)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute(movement_mg=40)  # 23:50-23:59, on flash
    open_tail, written = (tmp_path / "open.t").read_bytes(), board.store.read(seq)
    board.minute(movement_mg=40)  # midnight: day 1 closes into d00000 and s00000
    (tmp_path / "s00000").unlink()
    (tmp_path / "open.t").write_bytes(open_tail)
    reboot = Board(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["d00000", "s00000", "state"]
    assert reboot.store.read(seq) == written and reboot.store.unsynced() == [(seq, DAY, 0)]


def test_a_segment_gets_a_part_a_day_of_uptime(tmp_path):
    board = Board(tmp_path)
    for _ in range(24 * 60 + 1):
        board.minute()  # the clock never set: uptime day 0, then day 1
    assert [(key, flags) for _, key, flags in board.store.unsynced()] == [
        (1 << 8 | 0, store.FLAG_SEGMENT), (1 << 8 | 1, store.FLAG_SEGMENT)]


def test_an_open_record_of_no_minute_yet_reads_back_as_it_is(tmp_path):
    """Valid records of a day without minutes (the format allows it; the host keeps such a record too) are
    recovered and read back unchanged: a minutes payload of first_minute 0 and no token."""
    summary = store.pack_record(store.KIND_SUMMARY, 0, DAY, 1, struct.pack(store.SUMMARY, MIDNIGHT, *[0] * 9))
    minutes = store.pack_record(store.KIND_MINUTES, 0, DAY, 1, struct.pack("<H", 0))
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "open.t").write_bytes(summary + minutes)
    board = Board(tmp_path)
    assert board.store.read(1) == summary + minutes and board.store.open_seq == 1


def test_time_set_back_combines_minutes_and_keeps_steps_exact(tmp_path):
    board = Board(tmp_path)
    board.set_local(10 * 60 - 1)
    for _ in range(5):
        board.minute(30, 200, 2, 400)  # 10:00-10:04
    board.set_local(10 * 60 + 2)  # the board was 2 minutes fast
    board.minute(45, 100, 1, 300)  # 10:03 again
    summary, records = summary_of(board.store, board.store.open_seq)
    assert summary[1] == 1100 and summary[9] == 5
    slots = bytearray(6000)
    store.decode_minutes(records[1][4][2:], 0, slots)
    # walk_s 30 + 45 capped at 60, steps 200 + 100 saturated, the faster pace and the larger movement
    assert tuple(slots[603 * 4:604 * 4]) == (0x82, 60, 255, store.movement_code(400))


def test_time_set_forward_opens_a_new_day(tmp_path):
    board = Board(tmp_path)
    board.set_local(9 * 60)
    board.minute()
    board.set_local(9 * 60, day=DAY + 2)
    board.minute()
    assert [key for seq, key, flags in board.store.unsynced()] == [DAY, DAY + 2]


def test_unknown_time_goes_to_a_segment_placed_by_the_next_sync(tmp_path):
    board = Board(tmp_path)
    for _ in range(30):
        board.minute()
    board.set_local(12 * 60)
    board.minute()
    (seq, key, flags), (_, day_key, day_flags) = board.store.unsynced()
    assert (key, flags, day_key, day_flags) == (1 << 8 | 0, store.FLAG_SEGMENT, DAY, 0)
    records = store.parse_records(board.store.read(seq))[0]
    anchor_uptime_s, anchor_epoch_s = struct.unpack_from(store.ANCHOR, records[0][4], store.SUMMARY_BYTES)
    assert anchor_uptime_s == 30 * 60 and anchor_epoch_s == MIDNIGHT + 12 * 3600 + 30
    assert struct.unpack_from(store.SUMMARY, records[0][4])[9] == 30


def test_when_full_the_oldest_detail_goes_first_and_unacked_loss_is_reported(tmp_path, budget):
    board = Board(tmp_path, capacity_bytes=4 * 4096)
    checked = budget(board, 4 * 4096)
    board.set_local(-1)
    for day in range(12):
        if day == 2:
            board.store.ack(1)  # the host has day 0 only
        for m in range(24 * 60):
            board.minute(movement_mg=8 + (m * 37 + day) % 100)
    names = sorted(os.listdir(tmp_path))
    assert "d00000" not in names and "s00000" in names
    kept_minutes = [seq for seq in range(1, 12)
                    if [r[0] for r in store.parse_records(board.store.read(seq))[0]] == [1, 2]]
    dropped = [seq for seq in range(1, 12) if seq not in kept_minutes]
    assert dropped[0] == 1 and len(dropped) >= 2
    report = board.store.report()
    assert report["lost_detail"] == len(dropped) - 1 and report["lost_summary"] == 0
    assert [seq for seq, key, flags in board.store.unsynced()] == list(range(2, 13))
    assert checked[0] >= 2 * 11


def test_a_pack_without_one_valid_record_is_quarantined_not_fatal(tmp_path):
    board = Board(tmp_path)
    board.set_local(23 * 60 + 55)
    for _ in range(15):
        board.minute(movement_mg=40)  # 4 minutes of day 1, 11 of day 2: 10 of them written
    (tmp_path / "s00000").write_bytes(b"\x00" * 50)  # day 1's summary pack, all garbage
    reboot = Board(tmp_path)
    assert reboot.store.report()["quarantined"] == 1
    assert reboot.store.quarantine_names() == ["q1.s00000"]
    # Day 1's minutes and the open day are still there; day 1's summary is gone, and with it
    # day 1 from the list the host syncs by.
    assert [r[0] for r in store.parse_records(reboot.store.read(1))[0]] == [store.KIND_MINUTES]
    assert [seq for seq, key, flags in reboot.store.unsynced()] == [2]


def test_files_the_spec_does_not_name_are_left_alone_at_boot(tmp_path):
    """docs/store-format.md, 'Files': packs are d or s and five digits; other names are neither read nor moved."""
    board = Board(tmp_path)
    board.set_local(23 * 60 + 58)
    for _ in range(3):
        board.minute(movement_mg=40)  # 23:59 closes into d00000 and s00000 at midnight
    foreign = {"X00001": b"\xd5x", "dx0001": b"\xd5y", "s0001": b"\xd5z", "d000001": b"\xd5w"}
    for name, data in foreign.items():
        (tmp_path / name).write_bytes(data)
    reboot = Board(tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in foreign} == foreign
    assert reboot.store.report()["quarantined"] == 0 and reboot.store.quarantine_names() == []
    assert [seq for seq, _, _ in reboot.store.unsynced()] == [1] and summary_of(reboot.store, 1)[0][9] == 1


def test_a_days_bouts_are_its_own(tmp_path):
    """A day without a bout has bouts and longest_bout_s 0, also after a day with one."""
    board = Board(tmp_path)
    board.set_local(23 * 60 + 57)
    board.minute(60, 110, 2, 300)
    board.store.record_bout(195)
    for _ in range(3):
        board.minute(movement_mg=40)  # 23:59, then 00:00 and 00:01 of the next day
    assert summary_of(board.store, 1)[0][6:8] == (1, 195) and summary_of(board.store, 2)[0][6:8] == (0, 0)


def test_a_boot_deletes_leftover_tmp_files(tmp_path):
    """docs/store-format.md, 'Files': a cut between a .tmp write and its rename leaves the old file and the .tmp."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()
    tail = (tmp_path / "open.t").read_bytes()
    (tmp_path / "open.t.tmp").write_bytes(tail[:20])
    (tmp_path / "d00000.tmp").write_bytes(b"")
    reboot = Board(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["open.t", "state"] and (tmp_path / "open.t").read_bytes() == tail
    assert reboot.store.report()["quarantined"] == 0


def test_packs_numbered_past_9999_are_read(tmp_path):
    """Pack names hold five digits: d10000 and s10000 are pack 10,000 of each kind."""
    board = Board(tmp_path)
    board.set_local(23 * 60 + 58)
    for _ in range(2):
        board.minute(movement_mg=40)  # 23:59 closes into d00000 and s00000 at midnight
    written = board.store.read(1)
    for kind in "ds":
        os.rename(tmp_path / (kind + "00000"), tmp_path / (kind + "10000"))
    reboot = Board(tmp_path)
    assert reboot.store.read(1) == written and [seq for seq, _, _ in reboot.store.unsynced()] == [1]


def test_every_damaged_file_counts(tmp_path):
    board = Board(tmp_path)
    board.set_local(23 * 60 + 58)
    for _ in range(2):
        board.minute(movement_mg=40)  # 23:59 closes into d00000 and s00000 at midnight
    for name in ("d00000", "s00000"):
        (tmp_path / name).write_bytes(b"garbage")
    reboot = Board(tmp_path)
    assert reboot.store.report()["quarantined"] == 2 and reboot.store.quarantine_names() == ["q1.d00000", "q2.s00000"]


def test_a_record_opened_after_a_reboot_takes_the_seq_after_the_newest_on_flash(tmp_path):
    """Seqs count records from 1 in creation order: after a reboot the next one neither repeats nor skips a seq."""
    board = Board(tmp_path)
    board.set_local(23 * 60 + 58)
    for _ in range(2):
        board.minute(movement_mg=40)  # 23:59 closes into the packs as seq 1; 00:00 (seq 2) is in RAM only
    reboot = Board(tmp_path)
    reboot.set_local(8 * 60, day=DAY + 1)
    for _ in range(store.FLUSH_EVERY_MIN):
        reboot.minute()  # seq 2, open and on flash
    again = Board(tmp_path)
    again.set_local(8 * 60, day=DAY + 2)
    again.minute()
    assert [(seq, key) for seq, key, _ in again.store.unsynced()] == [(1, DAY), (2, DAY + 1), (3, DAY + 2)]


def test_a_lost_state_record_never_overwrites_an_older_quarantined_file(tmp_path):
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(10):
        board.minute()
    (tmp_path / "state").write_bytes(b"garbage")
    assert Board(tmp_path).store.quarantine_names() == ["q1.state"]
    (tmp_path / "state").write_bytes(b"garbage again")
    reboot = Board(tmp_path)  # its count restarted with the state: q1 is taken, so q2
    assert reboot.store.quarantine_names() == ["q1.state", "q2.state"]
    assert (tmp_path / "q1.state").read_bytes() == b"garbage"
    assert reboot.store.report()["quarantined"] == 1 and reboot.store.read(1)


def test_time_set_back_past_midnight_reopens_the_day_under_a_new_seq(tmp_path):
    board = Board(tmp_path)
    board.set_local(23 * 60 + 57)
    for _ in range(4):
        board.minute(60, 100, 2, 300)  # 23:58, 23:59, then 00:00 and 00:01 of the next day
    board.set_local(23 * 60 + 50)  # the board was 11 minutes fast: back to yesterday
    board.minute(30, 40, 1, 200)
    assert [(seq, key) for seq, key, flags in board.store.unsynced()] == [(1, DAY), (2, DAY + 1), (3, DAY)]
    first, second = summary_of(board.store, 1)[0], summary_of(board.store, 3)[0]
    assert (first[1], first[9]) == (200, 2) and (second[1], second[9]) == (40, 1)
    assert first[0] == second[0] == MIDNIGHT  # both are placed from the same local midnight


@pytest.mark.parametrize("date, before_s, after_s, local_change_h, minutes", [
    ((2026, 10, 25), 7200, 3600, 3, 1500),  # 03:00 CEST becomes 02:00 CET: a 25-hour day
    ((2026, 3, 29), 3600, 7200, 2, 1380),  # 02:00 CET becomes 03:00 CEST: a 23-hour day
])
def test_a_dst_day_keeps_all_its_minutes_in_one_record(tmp_path, date, before_s, after_s, local_change_h, minutes):
    day = days_from_civil(*date)
    board = Board(tmp_path)
    change_s = day * 86400 - before_s + local_change_h * 3600
    board.set_local(-1, day=day, offset_s=before_s, next_change_epoch_s=change_s, next_offset_s=after_s)
    for _ in range(minutes + 1):
        board.minute()
    assert [(seq, key) for seq, key, flags in board.store.unsynced()] == [(1, day), (2, day + 1)]
    summary = summary_of(board.store, 1)[0]
    assert summary[0] == day * 86400 - before_s and summary[9] == minutes
    assert summary_of(board.store, 2)[0][0] == (day + 1) * 86400 - after_s


def test_a_minute_past_255_steps_saturates_its_token_but_not_the_day(tmp_path):
    board = Board(tmp_path)
    board.set_local(12 * 60 - 1)
    board.minute(60, 300, 3, 400)  # only bad input gets here: the detector's cap is 222 steps/min
    board.minute(60, 130, 3, 400)
    summary, records = summary_of(board.store, 1)
    slots = bytearray(store.MAX_MINUTES * 4)
    store.decode_minutes(records[1][4][2:], 0, slots)
    assert (slots[720 * 4 + 2], slots[721 * 4 + 2]) == (255, 130)
    assert summary[1] == 430


def test_a_minute_past_60_walking_seconds_is_stored_as_60(tmp_path):
    """docs/store-format.md: a reader rejects a walk_s * 4 + pace byte above 243, so 61 s would make the record
    unreadable. Only bad input gets here: the detector's cap is 60 s."""
    board = Board(tmp_path)
    board.set_local(12 * 60 - 1)
    board.minute(75, 100, 2, 400)
    slots = bytearray(store.MAX_MINUTES * 4)
    store.decode_minutes(summary_of(board.store, 1)[1][1][4][2:], 0, slots)
    assert tuple(slots[720 * 4:721 * 4]) == (0x82, 60, 100, store.movement_code(400))


def one_minute_days(board, days, ack):
    """`days` days of one walking minute at noon each: every day closes the one before."""
    for day in range(days):
        board.set_local(12 * 60, day=DAY + day)
        board.minute(60, 100, 2, 300)
        if ack and day:
            board.store.ack(day)


def test_when_even_the_minutes_are_gone_the_oldest_summaries_go_and_are_counted(tmp_path, budget):
    # Four blocks: 299 closed days need 3 summary packs (93 a pack) and the copy of one being
    # rewritten, so no minutes record fits at all.
    board = Board(tmp_path, capacity_bytes=4 * 4096)
    checked = budget(board, 4 * 4096)
    one_minute_days(board, 300, ack=False)
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if n[0] == "d"] == []
    report = board.store.report()
    kept = [seq for seq in range(1, 300) if board.store.read(seq)]
    assert kept == list(range(300 - len(kept), 300)) and len(kept) >= 2 * 93
    assert report["lost_detail"] == 299 and report["lost_summary"] == 299 - len(kept)
    assert checked[0] >= 299
    for day in range(300, 400):  # a second summary pack goes: its losses add to the first's
        board.set_local(12 * 60, day=DAY + day)
        board.minute(60, 100, 2, 300)
    kept = [seq for seq in range(1, 400) if board.store.read(seq)]
    assert kept == list(range(400 - len(kept), 400)) and kept[0] > 2 * 93
    assert board.store.report()["lost_summary"] == 399 - len(kept)


def test_acked_summaries_older_than_two_years_make_room_before_minutes(tmp_path):
    board = Board(tmp_path, capacity_bytes=12 * 4096)
    one_minute_days(board, 900, ack=True)
    summaries = [seq for seq in range(1, 900) if board.store.read(seq)]
    assert summaries[-1] == 899 and store.SUMMARIES_KEPT <= len(summaries) <= store.SUMMARIES_KEPT + 93
    with_minutes = [seq for seq in summaries
                    if [r[0] for r in store.parse_records(board.store.read(seq))[0]] == [1, 2]]
    assert with_minutes == list(range(900 - len(with_minutes), 900)) and len(with_minutes) > 113
    assert board.store.report()["lost_detail"] == board.store.report()["lost_summary"] == 0


def test_a_lost_state_record_never_brings_a_boot_id_back(tmp_path):
    for _ in range(2):  # boots 1 and 2, the clock never set: each boot records a segment
        board = Board(tmp_path)
        for _ in range(10):
            board.minute()
    assert board.store.boot_id == 2
    (tmp_path / "state").write_bytes(b"garbage")
    assert Board(tmp_path).store.boot_id == 3  # from boot 2's segment on flash


def test_a_day_after_2038_keeps_its_start_and_key(tmp_path):
    board = Board(tmp_path)
    day = days_from_civil(2040, 6, 1)
    board.set_local(23 * 60 + 50, day=day)
    for _ in range(20):  # across midnight: 2040-06-01 closes into the packs
        board.minute(walk_s=60, steps=100, pace=2)
    values, records = summary_of(board.store, 1)
    midnight = datetime.datetime(2040, 6, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert values[0] == int(midnight.timestamp()) > 2 ** 31
    assert records[0][2] == day and [key for _, key, _ in board.store.unsynced()] == [day, day + 1]


def test_a_lost_state_record_never_brings_back_the_boot_id_of_a_closed_segment(tmp_path):
    board = Board(tmp_path)  # boot 1, the clock never set: a segment
    for _ in range(10):
        board.minute()
    board.set_local(12 * 60)
    board.minute()  # the sync closes the segment into the packs; the day's minute is in RAM only
    assert (tmp_path / "s00000").exists() and not (tmp_path / "open.t").exists()
    (tmp_path / "state").write_bytes(b"garbage")
    assert Board(tmp_path).store.boot_id == 2  # from boot 1's segment in the packs


def test_a_segment_of_a_boot_that_ended_before_any_sync_has_no_anchor(tmp_path):
    """docs/store-format.md: a boot that ended before any sync has no anchor, even when the next boot's sync closes
    its segment."""
    board = Board(tmp_path)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()  # boot 1, the clock never set
    reboot = Board(tmp_path)
    reboot.set_local(12 * 60)
    reboot.minute()  # boot 2's sync: boot 1's segment closes
    summary = store.parse_records(reboot.store.read(1))[0][0]
    assert (summary[1], summary[2]) == (store.FLAG_SEGMENT, 1 << 8 | 0)
    assert struct.unpack_from(store.ANCHOR, summary[4], store.SUMMARY_BYTES) == (store.NO_ANCHOR, store.NO_ANCHOR)


def spec_kinds():
    """{name: kind} from docs/store-format.md's header row: '1 summary, 2 minutes, 3 state'."""
    spec = (pathlib.Path(__file__).parent.parent / "docs" / "store-format.md").read_text()
    meaning = re.search(r"^\| 2 \| u8 \| kind \| (.*) \|$", spec, re.M).group(1)
    return {name: int(number) for number, name in (part.split() for part in meaning.split(", "))}


def test_the_files_hold_the_kinds_and_the_segment_flag_the_spec_names(tmp_path):
    """docs/store-format.md: kind 1 summary, 2 minutes, 3 state; flags bit 0 marks an unknown-time segment."""
    kinds = spec_kinds()
    board = Board(tmp_path)
    for _ in range(10):
        board.minute()  # the clock never set: a segment
    board.set_local(23 * 60 + 58)
    for _ in range(3):
        board.minute()  # the segment closes at the sync, the day at midnight
    (state,), _ = store.parse_records((tmp_path / "state").read_bytes())
    summaries, _ = store.parse_records((tmp_path / "s00000").read_bytes())
    minutes, _ = store.parse_records((tmp_path / "d00000").read_bytes())
    assert state[0] == kinds["state"]
    assert [(r[0], r[1]) for r in summaries] == [(kinds["summary"], 1), (kinds["summary"], 0)]
    assert [(r[0], r[1]) for r in minutes] == [(kinds["minutes"], 1), (kinds["minutes"], 0)]


def test_a_rollback_found_before_any_minute_gives_the_next_record_the_seq_after_the_hosts(tmp_path):
    board = Board(tmp_path)  # nothing open: the store holds seq 0 (docs/store-format.md)
    board.store.rolled_back(5)
    assert board.store.report()["lost_detail"] == 1
    board.set_local(8 * 60)
    board.minute()
    assert [seq for seq, _, _ in board.store.unsynced()] == [6]


@pytest.mark.parametrize("second_day_tokens, packs, blocks", [((514, 0), 1, 3), ((512, 3), 2, 32)])
def test_a_pack_holds_records_up_to_one_4096_byte_block(tmp_path, second_day_tokens, packs, blocks):
    """docs/store-format.md: closed records are packed into files up to 4096 bytes. A minutes record is 20 bytes
    and its tokens: 4 bytes for a 30 s walking minute at 20 mg, 3 at 100 mg. 2020 + 2076 = 4096 B share a pack,
    2020 + 2077 = 4097 B do not. The pack of 4096 B is one block: it fits in 3 beside its old copy and the base."""
    board = Board(tmp_path, capacity_bytes=blocks * 4096)
    board.set_local(-1)
    for _ in range(500):
        board.minute(30, 40, 1, 20)
    board.set_local(-1, day=DAY + 1)
    four_byte, three_byte = second_day_tokens
    for movement_mg, n in ((20, four_byte), (100, three_byte)):
        for _ in range(n):
            board.minute(30, 40, 1, movement_mg)
    board.set_local(-1, day=DAY + 2)
    board.minute()
    sizes = [(tmp_path / name).stat().st_size for name in sorted(os.listdir(tmp_path)) if name[0] == "d"]
    assert sum(sizes) == 2020 + 20 + 4 * four_byte + 3 * three_byte and len(sizes) == packs
    assert [r[0] for r in store.parse_records(Board(tmp_path).store.read(2))[0]] == [1, 2]  # found after a reboot


@pytest.mark.parametrize("closed_days, oldest_kept", [(822, True), (823, False), (824, False)])
def test_an_acked_summary_pack_makes_room_once_two_years_of_summaries_are_newer(tmp_path, budget, closed_days,
                                                                                oldest_kept):
    """docs/store-format.md: the oldest summary pack may go for room once 730 summaries are newer than it. One-minute
    days, all acked, put 93 summaries in a pack (44 B each); a day of 1,440 four-byte minute tokens then needs two
    blocks the 15 do not have. At 822 closed days 729 summaries are newer than the first pack (a minutes pack
    goes), at 823, 730 (the summary pack goes)."""
    board = Board(tmp_path, capacity_bytes=15 * 4096)
    checked = budget(board, 15 * 4096)
    one_minute_days(board, closed_days, ack=True)
    board.store.ack(closed_days)
    board.set_local(-1, day=DAY + closed_days)
    for _ in range(24 * 60):
        board.minute(30, 40, 1, 20)
    board.set_local(12 * 60, day=DAY + closed_days + 1)
    board.minute()
    assert (tmp_path / "s00000").exists() is oldest_kept
    assert bool(board.store.read(1)) is oldest_kept
    assert checked[0] == 2 * (closed_days + 1)


def littlefs_out_of_blocks(monkeypatch, refusals):
    """The store's next `refusals` file writes fail as littlefs fails them when it has no free block."""
    left = [refusals]

    def open_(path, mode="r"):
        if "w" in mode and left[0]:
            left[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(path, mode)
    monkeypatch.setattr(store, "open", open_, raising=False)


@pytest.mark.parametrize("refusals, evicted, failed_writes", [(1, 1, 0), (3, 3, 0), (4, 4, 1), (99, 4, 1)])
def test_a_write_littlefs_refuses_for_want_of_blocks_evicts_and_is_tried_four_times(
        tmp_path, monkeypatch, refusals, evicted, failed_writes):
    """docs/store-format.md: on ENOSPC the store evicts as for its own budget (quarantined files first) and
    retries, up to 4 tries a write; a write still refused is counted and its data kept in RAM."""
    board = Board(tmp_path)
    for number in range(1, 7):
        (tmp_path / ("q%d.state" % number)).write_bytes(b"garbage")
    board.set_local(8 * 60)
    littlefs_out_of_blocks(monkeypatch, refusals)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()
    assert len(board.store.quarantine_names()) == 6 - evicted
    assert board.store.report()["failed_writes"] == failed_writes
    assert (tmp_path / "open.t").exists() is not failed_writes


def test_a_minutes_pack_that_cannot_grow_is_left_and_the_record_starts_the_next(tmp_path, monkeypatch):
    """docs/store-format.md, 'Capacity and eviction': no room beside the newest minutes pack and nothing to evict
    for it (summaries never go for minutes): the record starts a new pack, and nothing is lost."""
    board = Board(tmp_path)
    one_minute_days(board, 2, ack=False)  # day 1 closed into d00000 and s00000
    left = [1]
    refused = ["d00000"]

    def open_(path, mode="r"):  # d00000's next write fails as littlefs fails it when it has no free block
        if "w" in mode and os.path.basename(path).startswith(refused[0]) and left[0]:
            left[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(path, mode)
    monkeypatch.setattr(store, "open", open_, raising=False)
    board.set_local(12 * 60, day=DAY + 2)
    board.minute()  # day 2 closes
    assert len([n for n in os.listdir(tmp_path) if n[0] == "d"]) == 2
    report = board.store.report()
    assert (report["lost_detail"], report["lost_summary"], report["failed_writes"]) == (0, 0, 1)
    assert [[r[0] for r in store.parse_records(Board(tmp_path).store.read(seq))[0]] for seq in (1, 2)] == [[1, 2]] * 2
    for day, left[0] in ((3, 1), (4, 1)):  # now d00001's: d00000 goes for it, then it is left for a third pack
        refused[0] = "d00001"
        board.set_local(12 * 60, day=DAY + day)
        board.minute()
    assert sorted(n for n in os.listdir(tmp_path) if n[0] == "d") == ["d00001", "d00002"]
    assert board.store.report()["lost_detail"] == 1
    rebooted = Board(tmp_path).store
    assert [[r[0] for r in store.parse_records(rebooted.read(seq))[0]] for seq in (2, 3, 4)] == [[1, 2]] * 3


def blocks_on_flash(root):
    """docs/store-format.md, 'Capacity and eviction': every file over 128 bytes in whole 4 KB blocks."""
    block = os.statvfs(root).f_bsize
    return sum(-(-size // block) for size in (os.stat(os.path.join(root, n)).st_size for n in os.listdir(root))
               if size > 128)


@pytest.fixture
def budget(monkeypatch):
    """budget(board, capacity_bytes): from then on every pack the store renames into place must fit capacity_bytes
    with the old copy still beside it; returns the number of packs so checked."""
    rename = os.rename
    checked = [0]

    def watch(board, capacity_bytes):
        def checked_rename(source, target):
            if re.fullmatch(r"[ds]\d{5}", os.path.basename(target)):
                assert blocks_on_flash(board.store.root) <= capacity_bytes // os.statvfs(board.store.root).f_bsize
                checked[0] += 1
            rename(source, target)
        monkeypatch.setattr(store.os, "rename", checked_rename)
        return checked
    return watch


def test_a_one_block_store_keeps_its_summary_pack_and_counts_each_summary_it_cannot_add(tmp_path):
    """docs/store-format.md, 'Capacity and eviction': the file being written is never dropped and summaries never go
    for minutes. In one 4 KB block three day summaries (132 B) take the block, so the fourth cannot be written beside
    the old copy: the minutes go, and then each new summary is lost and counted, the pack kept as it is."""
    board = Board(tmp_path, capacity_bytes=4096)
    one_minute_days(board, 7, ack=False)  # days 0-5 closed, seqs 1-6
    assert sorted(n for n in os.listdir(tmp_path) if re.fullmatch(r"[ds]\d{5}", n)) == ["s00000"]
    assert [bool(board.store.read(seq)) for seq in range(1, 7)] == [True] * 3 + [False] * 3
    report = board.store.report()
    assert (report["lost_summary"], report["lost_detail"], report["failed_writes"]) == (3, 6, 0)


def test_a_close_littlefs_refuses_throughout_tries_each_pack_four_times_and_counts_both_records(
        tmp_path, monkeypatch):
    """docs/store-format.md: a write refused for want of blocks is retried after an eviction; with nothing left to
    evict each pack is tried once a close, and a record not written is lost and counted, once."""
    board = Board(tmp_path)
    board.set_local(12 * 60)
    board.minute(60, 100, 2, 300)
    tries = {}

    def open_(path, mode="r"):
        if "w" in mode:
            tries[os.path.basename(path)] = tries.get(os.path.basename(path), 0) + 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(path, mode)
    monkeypatch.setattr(store, "open", open_, raising=False)
    for day in (1, 2):
        board.set_local(12 * 60, day=DAY + day)
        board.minute(60, 100, 2, 300)  # closes the day before
    packs = {name: n for name, n in tries.items() if re.fullmatch(r"[ds]\d{5}\.tmp", name)}
    assert packs == {"d00000.tmp": 2, "s00000.tmp": 2}
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    report = board.store.report()
    assert (report["lost_detail"], report["lost_summary"]) == (2, 2)


@pytest.mark.parametrize("blocks, size, kept", [(1, 128, True), (1, 129, False), (2, 4096, True), (2, 4097, False)])
def test_a_quarantined_file_takes_whole_blocks_past_128_bytes_and_goes_first_for_room(tmp_path, blocks, size, kept):
    """docs/store-format.md, 'Capacity and eviction': each non-inline file counts as whole 4 KB blocks, a file of
    <= 128 bytes as none. Closing a day writes packs that need one block (the minutes, 35 B, and the summary, 44 B, are
    counted in whole blocks too); the quarantined file goes for it only if the store has no block left beside it."""
    (tmp_path / "q1.d00007").write_bytes(bytes(size))
    board = Board(tmp_path, capacity_bytes=blocks * 4096)
    one_minute_days(board, 2, ack=False)
    assert (board.store.quarantine_names() == ["q1.d00007"]) is kept
    assert board.store.read(1)
    assert board.store.report()["lost_detail"] == board.store.report()["lost_summary"] == 0


@pytest.mark.parametrize("host_seq, acked, oldest_kept", [(0, 93, False), (0, 92, True), (500, 500, True)])
def test_the_oldest_summary_pack_goes_by_the_two_year_rule_only_if_all_of_it_is_acked(
        tmp_path, host_seq, acked, oldest_kept):
    """docs/store-format.md: the oldest summary pack may go for room once 730 summaries are newer than it, if it is
    acknowledged. As in the test above, 823 closed one-minute days and a day of 1,440 four-byte minute tokens in 15
    blocks; s00000 holds the first 93 summaries (seqs 1-93, or 501-593 after a rollback to the host's seq 500) and
    is acked only if the host's ack reaches its last seq, not merely as many seqs as it holds."""
    board = Board(tmp_path, capacity_bytes=15 * 4096)
    if host_seq:
        board.store.rolled_back(host_seq)
    board.store.ack(acked)
    one_minute_days(board, 823, ack=False)
    board.set_local(-1, day=DAY + 823)
    for _ in range(24 * 60):
        board.minute(30, 40, 1, 20)
    board.set_local(12 * 60, day=DAY + 824)
    board.minute()
    assert (tmp_path / "s00000").exists() is oldest_kept
    assert bool(board.store.read(host_seq + 1)) is oldest_kept
    assert board.store.read(host_seq + 94)
    assert board.store.report()["lost_summary"] == (1 if host_seq else 0)


@pytest.mark.parametrize("four_byte, three_byte, blocks, minutes_kept", [(1019, 0, 3, True), (1017, 3, 4, False)])
def test_a_pack_of_4096_bytes_needs_one_block_and_one_of_4097_two(tmp_path, budget, four_byte, three_byte, blocks,
                                                                 minutes_kept):
    """docs/store-format.md: files count as whole 4 KB blocks. A day's minutes record of 20 bytes and its tokens (4
    bytes for a 30 s walking minute at 20 mg, 3 at 100 mg) is 4096 or 4097 bytes; the open record's base beside it at
    the close takes one block or two (4064 or 4141 bytes), a quarantined file one. 4096 bytes: the minutes fit beside
    both, the quarantined file goes for the summary's block. 4097: it goes for the minutes' second block, and the
    minutes then go for the summary's (summaries last)."""
    (tmp_path / "q1.d00007").write_bytes(bytes(200))
    board = Board(tmp_path, capacity_bytes=blocks * 4096)
    checked = budget(board, blocks * 4096)
    board.set_local(-1)
    for movement_mg, n in ((20, four_byte), (100, three_byte)):
        for _ in range(n):
            board.minute(30, 40, 1, movement_mg)
    board.set_local(-1, day=DAY + 1)
    board.minute()
    assert board.store.quarantine_names() == [] and checked[0] == 2
    assert (tmp_path / "d00000").exists() is minutes_kept
    assert board.store.report()["lost_detail"] == (0 if minutes_kept else 1)
    assert [r[0] for r in store.parse_records(board.store.read(1))[0]] == ([1, 2] if minutes_kept else [1])


def test_the_state_record_has_key_0_and_seq_0_and_its_counters_stop_at_the_u16(tmp_path):
    """docs/store-format.md, 'State payload (kind 3)': key 0, seq 0; the counters are u16s."""
    board = Board(tmp_path)
    one_minute_days(board, 2, ack=False)
    board.store.lost_detail = board.store.lost_summary = board.store.quarantined = 70_000
    board.store.failed_writes = 0xFFFF
    with pytest.MonkeyPatch.context() as patch:
        littlefs_out_of_blocks(patch, 1)
        board.store.ack(1)  # its state write refused: one more failed write
    board.set_local(12 * 60, day=DAY + 2)
    board.minute()
    board.store.ack(2)  # day 1 closed and acked: the state written
    data = (tmp_path / "state").read_bytes()
    magic, version, kind, flags, key, seq, length = struct.unpack_from(store.HEADER, data)
    assert (kind, flags, key, seq, length) == (store.KIND_STATE, 0, 0, 0, store.STATE_BYTES)
    report = Board(tmp_path).store.report()
    assert [report[k] for k in ("lost_detail", "lost_summary", "quarantined", "failed_writes")] == [0xFFFF] * 4


def test_cleared_losses_read_zero_after_a_reboot(tmp_path):
    board = Board(tmp_path)
    board.store.rolled_back(5)
    board.store.clear_report()
    rebooted = 1 + 5 * store.ROLLBACK_BOOT_STRIDE + 1  # boot 1 given an id past the rollback's, then a reboot
    assert set(Board(tmp_path).store.report().values()) - {rebooted, 0} == set()
    report = Board(tmp_path).store.report()
    assert [report[k] for k in ("lost_detail", "lost_summary", "quarantined", "failed_writes")] == [0] * 4


def test_an_ack_of_an_older_seq_leaves_the_newer_unsynced(tmp_path):
    board = Board(tmp_path)
    one_minute_days(board, 4, ack=False)  # seqs 1-3 closed, 4 open
    board.store.ack(1)
    assert [seq for seq, _, _ in board.store.unsynced()] == [2, 3, 4]
    assert [seq for seq, _, _ in Board(tmp_path).store.unsynced()] == [2, 3, 4]


def test_a_rollback_is_counted_once_a_rollback_and_each_new_one_once_more(tmp_path):
    """docs/store-format.md, 'Rollback': one loss each for minutes and summaries, once per rollback."""
    board = Board(tmp_path)
    board.store.rolled_back(5)
    board.store.ack(5)
    board.store.rolled_back(5)  # the same host seq, already acked: already counted
    assert (board.store.report()["lost_detail"], board.store.report()["lost_summary"]) == (1, 1)
    board.store.rolled_back(9)  # another rollback
    assert (board.store.report()["lost_detail"], board.store.report()["lost_summary"]) == (2, 2)


def test_records_after_a_rollback_are_unsynced_by_seq_not_by_how_many(tmp_path):
    """Seqs after a rollback to the host's seq 500 start at 501: a pack of three records ending at 503 is
    unacknowledged past an ack of 500."""
    board = Board(tmp_path)
    board.store.rolled_back(500)
    board.store.ack(500)
    one_minute_days(board, 4, ack=False)
    assert [seq for seq, _, _ in board.store.unsynced()] == [501, 502, 503, 504]


@pytest.mark.parametrize("minutes", [5, 40])  # a tail only; a base and a tail
def test_an_open_record_renumbered_by_a_rollback_is_rewritten_whole_under_its_new_seq(tmp_path, minutes):
    board = Board(tmp_path)
    board.set_local(-1)
    for _ in range(minutes):
        board.minute(60, 100, 2, 30)
    board.store.flush()
    board.store.rolled_back(9)
    before = board.store.read(10)
    assert before and Board(tmp_path).store.read(10) == before


def test_a_write_refused_once_its_file_exists_leaves_no_tmp_file(tmp_path, monkeypatch):
    """littlefs may refuse a write after creating its file: the .tmp goes at once, not at the next boot."""
    board = Board(tmp_path)
    one_minute_days(board, 2, ack=False)

    class Refusing:
        def __init__(self, path, mode):
            self.file = open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "open", lambda path, mode="r": Refusing(path, mode) if "w" in mode else open(path, mode),
                        raising=False)
    board.set_local(12 * 60, day=DAY + 2)
    board.minute()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert board.store.report()["failed_writes"] > 0


def test_a_renumbering_the_filesystem_refuses_is_written_with_the_next_ten_minutes(tmp_path, monkeypatch):
    """The renumbered record counts as one unwritten minute: refused at the rollback, it goes to flash with the tail
    when nine more minutes make the ten of the write schedule."""
    board = Board(tmp_path)
    board.set_local(8 * 60)
    for _ in range(store.FLUSH_EVERY_MIN):
        board.minute()  # written: nothing unsaved
    with pytest.MonkeyPatch.context() as patch:
        littlefs_out_of_blocks(patch, 99)
        board.store.rolled_back(9)
    writes = []
    monkeypatch.setattr(store, "open", lambda path, mode="r": (writes.append(path) if "w" in mode else None)
                        or open(path, mode), raising=False)
    for _ in range(store.FLUSH_EVERY_MIN - 2):
        board.minute()
    assert writes == []
    board.minute()
    assert [os.path.basename(path) for path in writes] == ["open.t"]
    assert [seq for seq, _, _ in Board(tmp_path).store.unsynced()] == [10]
