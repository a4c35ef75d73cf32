"""`walkdose sync` end to end: the firmware Link and DayStore on one side, the host client and the
database on the other; a sync cut at any byte and resumed, devices kept apart, the clock and time zone
the device is given, and the real command over a pty with the real pyserial."""
import argparse
import contextlib
import functools
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest
import serial

from conftest import REPO
from firmware import store
from firmware.clock import days_from_civil
from link_harness import (DAY, SYNC_EPOCH_S, Cable, Identity, cut_sweep, database_rows, link_on_pty,
                          sync_over, week_of_walking)
from walkdose import cli, db, localtime, protocol, sync
from walkdose.errors import UserError

OSLO_DST_2026 = days_from_civil(2026, 3, 29) * 86400 + 3600  # 02:00 CET becomes 03:00 CEST, 01:00 UTC


@pytest.fixture(autouse=True)
def oslo(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Oslo")
    yield
    monkeypatch.undo()
    time.tzset()


def rows_of(path):
    conn = sqlite3.connect(str(path))
    try:
        return database_rows(conn)
    finally:
        conn.close()


def recorded_minutes(data):
    """Minute indexes with a record, decoded from DayStore.read() bytes with the store's own reader."""
    records, _ = store.parse_records(data)
    minutes = [r for r in records if r[0] == store.KIND_MINUTES]
    if not minutes:
        return []
    slots = bytearray(store.MAX_MINUTES * 4)
    store.decode_minutes(minutes[0][4][2:], int.from_bytes(minutes[0][4][:2], "little"), slots)
    return [m for m in range(store.MAX_MINUTES) if slots[4 * m]]


def test_a_sync_stores_every_record_sets_the_clock_and_acks_the_closed_ones(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    expected = {seq: board.store.read(seq) for seq, _, _ in board.store.unsynced()}
    messages = []
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    summary = sync.sync_device(protocol.Client(Cable(board)), conn, "cable", now=lambda: SYNC_EPOCH_S,
                               say=messages.append)
    assert summary == "synced 4 record(s) from e3a1f09c2b7d4410 into the database"
    records = conn.execute("SELECT seq, key, segment, steps FROM records WHERE device_id = ? ORDER BY seq",
                           ("e3a1f09c2b7d4410",)).fetchall()
    # Boot 1 walked 12 minutes at 110 steps/min, but the reset lost the last 2 (not yet on flash);
    # then 25, 240 and 45 minutes at 110 plus 8 at 125 on each day.
    assert records == [(1, 1 << 8, 1, 10 * 110), (2, DAY, 0, 25 * 110 + 1000), (3, DAY + 1, 0, 240 * 110 + 1000),
                       (4, DAY + 2, 0, 45 * 110 + 1000)]
    for seq, data in expected.items():
        stored = [m for (m,) in conn.execute("SELECT minute FROM minutes WHERE seq = ? ORDER BY minute", (seq,))]
        assert stored == recorded_minutes(data)
    assert board.store.acked_seq == 3  # the open day is fetched again next time
    assert board.clock.epoch_s() == SYNC_EPOCH_S
    assert board.clock.utc_offset_s(OSLO_DST_2026 - 1) == 3600 and board.clock.utc_offset_s(OSLO_DST_2026) == 7200
    assert conn.execute("SELECT boot_id, acked_seq, lost_detail FROM losses").fetchall() == [(2, 3, 0)]
    assert conn.execute("SELECT board, firmware, battery_mv, synced_epoch_s FROM devices").fetchall() == [
        ("xiao-nrf52840-sense", "0.1.0", 3912, SYNC_EPOCH_S)]
    assert messages[0] == "device e3a1f09c2b7d4410 (xiao-nrf52840-sense, firmware 0.1.0, 3.91 V) on cable"
    assert "[3/4] day 2026-03-03: %d bytes stored" % len(expected[3]) in messages
    assert "[1/4] unknown-time segment (boot 1, part 0): %d bytes stored" % len(expected[1]) in messages
    conn.close()


def test_syncing_twice_changes_nothing(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    assert sync_over(Cable(board), tmp_path / "walkdose.sqlite") is None
    first = rows_of(tmp_path / "walkdose.sqlite")
    assert sync_over(Cable(board), tmp_path / "walkdose.sqlite") is None
    assert rows_of(tmp_path / "walkdose.sqlite") == first
    assert len(first["records"]) == 4 and board.store.acked_seq == 3


def test_a_sync_cut_at_any_byte_then_resumed_equals_a_clean_sync(tmp_path):
    """Every byte offset of a full session (benchmarks/sync_cuts.py runs the same sweep on several cores)."""
    template = week_of_walking(tmp_path / "template")
    clean = Cable(template.clone(tmp_path / "clean"))
    assert sync_over(clean, tmp_path / "clean.sqlite") is None
    reference = rows_of(tmp_path / "clean.sqlite")
    # info, set time, list, 5 fetches (day 2026-03-03 takes two), 4 acks, losses, sensor (error 2: this
    # board has no IMU counters); each asked and answered
    assert len(reference["records"]) == 4 and len(clean.line_ends) == 2 * 14
    offsets = range(clean.crossed + 1)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as workdir:
        results = list(cut_sweep(template, pathlib.Path(workdir), offsets))
    assert all(rows == reference for _, _, rows in results), [o for o, _, rows in results if rows != reference]
    errors = [str(error) for _, error, _ in results if error]
    assert len(errors) == len(offsets) - (clean.crossed in offsets)
    assert all("lost the connection to cable" in e and "run walkdose sync again" in e for e in errors)


def test_the_open_day_grows_between_syncs_and_the_database_follows(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    database = tmp_path / "walkdose.sqlite"
    assert sync_over(Cable(board), database) is None  # the clock moves to 2026-03-07 16:13 UTC
    board.walk(20)  # seq 5 opens on 2026-03-07; seq 4 closes
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 20 * 60) is None
    board.walk(15)
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 35 * 60) is None
    conn = sqlite3.connect(str(database))
    assert conn.execute("SELECT seq, key, steps FROM records WHERE seq >= 4").fetchall() == [
        (4, DAY + 2, 45 * 110 + 1000), (5, days_from_civil(2026, 3, 7), 35 * 110)]
    minutes = [m for (m,) in conn.execute("SELECT minute FROM minutes WHERE seq = 5 ORDER BY minute")]
    assert minutes == recorded_minutes(board.store.read(5)) and len(minutes) == 35
    assert board.store.acked_seq == 4
    conn.close()


def test_a_seq_the_host_has_seen_never_names_another_record_after_a_power_cut(tmp_path):
    # A record opened less than FLUSH_EVERY_MIN before a sync lived only in RAM: a cut after the sync gave
    # its seq to the next record, and every later sync of the device failed ("was the store wiped?").
    board = week_of_walking(tmp_path / "flash")
    database = tmp_path / "walkdose.sqlite"
    assert sync_over(Cable(board), database) is None
    board.walk(2)  # seq 5 opens on 2026-03-07; its 2 minutes are not due for flash yet
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 2 * 60) is None
    board.reboot()  # boot 3: RAM lost, and no clock
    board.walk(1)  # an unknown-time segment of boot 3 opens
    board.rest(1)
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 5 * 60) is None
    conn = sqlite3.connect(str(database))
    assert conn.execute("SELECT seq, key, segment, steps FROM records WHERE seq >= 5").fetchall() == [
        (5, days_from_civil(2026, 3, 7), 0, 2 * 110), (6, 3 << 8, 1, 110)]
    conn.close()


def test_two_devices_are_kept_apart_by_device_id(tmp_path):
    first = week_of_walking(tmp_path / "a")
    second = week_of_walking(tmp_path / "b", Identity(device_id="5c0ffee000000001", board="nano-rp2040-connect"))
    for board in (first, second):
        assert sync_over(Cable(board), tmp_path / "walkdose.sqlite") is None
    conn = sqlite3.connect(str(tmp_path / "walkdose.sqlite"))
    assert conn.execute("SELECT device_id, board FROM devices ORDER BY 1").fetchall() == [
        ("5c0ffee000000001", "nano-rp2040-connect"), ("e3a1f09c2b7d4410", "xiao-nrf52840-sense")]
    per_device = conn.execute("SELECT device_id, COUNT(*), SUM(steps) FROM records GROUP BY 1 ORDER BY 1").fetchall()
    assert per_device == [("5c0ffee000000001", 4, 38200), ("e3a1f09c2b7d4410", 4, 38200)]
    conn.close()


@pytest.mark.parametrize("zone, expected", [
    ("Europe/Oslo", (3600, OSLO_DST_2026, 7200)),
    ("UTC", (0, None, 0)),
    ("America/Sao_Paulo", (-3 * 3600, None, -3 * 3600)),  # no DST since 2019
    # Sydney: daylight time ends Sunday 5 April 2026, 03:00 AEDT = 16:00 UTC the day before
    ("Australia/Sydney", (11 * 3600, days_from_civil(2026, 4, 4) * 86400 + 16 * 3600, 10 * 3600)),
])
def test_local_offsets_follow_the_TZ_variable(monkeypatch, zone, expected):
    monkeypatch.setenv("TZ", zone)
    assert localtime.local_offsets(SYNC_EPOCH_S) == expected


def test_the_port_is_never_opened_at_1200_baud():
    with pytest.raises(UserError, match="refusing to open at 1200 baud.*bootloader"):
        sync.open_port("loop://", 1200)
    assert sync.BAUDRATE == 115200


def test_a_port_nobody_answers_on_gives_a_clear_message(tmp_path, monkeypatch, capsys):
    # loop:// sends every request straight back, as a board sitting in its REPL would echo it.
    monkeypatch.setattr(sync, "Client", functools.partial(protocol.Client, response_timeout_s=0.2))
    status = cli.main(["sync", "--port", "loop://", "--db", str(tmp_path / "walkdose.sqlite")])
    err = capsys.readouterr().err
    assert status == 2
    assert err == ("walkdose: no walkdose device answered on loop:// within 0.6 s: check that the board is plugged "
                   "in with a data cable, that it runs the walkdose firmware (not the bare REPL), and that no other "
                   "program (mpremote, a serial monitor) has the port open\n")
    status = cli.main(["sync", "--port", str(tmp_path / "ttyACM9"), "--db", str(tmp_path / "walkdose.sqlite")])
    assert status == 2 and f"walkdose: cannot open {tmp_path / 'ttyACM9'}" in capsys.readouterr().err


# ---- the real command over a pty --------------------------------------------------------------

@pytest.fixture
def board_on_pty(tmp_path):
    """A board whose link is served from a thread on the master side of a pty; yields (board, link,
    the pty's path)."""
    board = week_of_walking(tmp_path / "flash")
    with link_on_pty(board) as (link, path):
        yield board, link, path


def walkdose_sync(*args):
    env = dict(os.environ, TZ="Europe/Oslo", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "walkdose.cli", "sync", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_walkdose_sync_over_a_pty_with_pyserial(board_on_pty, tmp_path):
    board, link, path = board_on_pty
    database = tmp_path / "walkdose.sqlite"
    started = time.time()
    out = walkdose_sync("--port", path, "--db", str(database), "--target", "90")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "synced 4 record(s) from e3a1f09c2b7d4410 into the database\n"
    assert f"walkdose: device e3a1f09c2b7d4410 (xiao-nrf52840-sense, firmware 0.1.0, 3.91 V) on {path}" in out.stderr
    assert "walkdose: [4/4] day 2026-03-04" in out.stderr
    assert started - 1 <= board.clock.epoch_s() <= time.time() + 1 and board.store.acked_seq == 3
    assert link.target_min == 90 and link.discarded_frames == 0
    assert oct(os.stat(database).st_mode & 0o777) == "0o600"
    first = rows_of(database)
    assert [r[:2] for r in first["records"]] == [("e3a1f09c2b7d4410", seq) for seq in (1, 2, 3, 4)]
    out = walkdose_sync("--port", path, "--db", str(database))
    assert out.returncode == 0 and "synced 1 record(s)" in out.stdout  # the open day, unchanged
    second = rows_of(database)
    assert {t: r for t, r in second.items() if t not in ("devices", "losses")} == {
        t: r for t, r in first.items() if t not in ("devices", "losses")}  # only the sync times moved


def test_without_target_the_board_gets_todays_target_from_the_plan(board_on_pty, tmp_path):
    board, link, path = board_on_pty
    database = str(tmp_path / "walkdose.sqlite")
    planned = subprocess.run([sys.executable, "-m", "walkdose.cli", "plan", "--goal", "60", "--db", database],
                             capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
    assert planned.returncode == 0, planned.stderr
    assert walkdose_sync("--port", path, "--db", database).returncode == 0
    assert link.target_min == 60  # no baseline week yet: the plan's goal


def test_a_flash_rollback_is_reported_as_a_loss_and_no_seq_names_two_records(tmp_path):
    # Erasing littlefs's root metadata pair mounts an older revision (issue #18, 21 of 400 erase trials):
    # the store's files and state go back together, so only the host's seqs can tell.
    board = week_of_walking(tmp_path / "flash")
    old_revision = tmp_path / "old-revision"
    shutil.copytree(board.store.root, str(old_revision))  # seqs 1..5, 5 open
    database = tmp_path / "walkdose.sqlite"
    assert sync_over(Cable(board), database) is None
    board.ticks.ms += (24 * 60 - 83) * 60_000
    for _ in range(2):  # more days, synced
        board.walk(30)
        board.ticks.ms += (24 * 60 - 30) * 60_000
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 2 * 86400) is None
    board.walk(40)  # days after the last sync: these records are what the rollback takes
    board.ticks.ms += (24 * 60 - 40) * 60_000
    board.walk(20)
    held = rows_of(database)["records"]
    highest = max(row[1] for row in held)
    assert highest >= 6
    shutil.rmtree(board.store.root)
    shutil.copytree(str(old_revision), board.store.root)
    board.reboot()
    board.walk(3)  # a segment of the new boot: the old revision's next seq, 6, is one the host holds
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 4 * 86400) is None
    after = rows_of(database)
    losses = after["losses"][-1]
    assert losses[4] + losses[5] > 0  # lost_detail + lost_summary
    keys = {row[1]: row[2:4] for row in after["records"]}
    assert all(keys[row[1]] == row[2:4] for row in held)  # every seq still names its record
    assert keys[highest + 1] == ((board.store.boot_id << 8), 1)  # the new segment, past every seq the host holds


@pytest.mark.parametrize("minute_during_sync", [False, True])
def test_a_rollback_to_before_the_last_synced_record_and_a_reboot_keep_two_boots_apart(tmp_path, minute_during_sync):
    # The flash goes back to its state before boot 3 (next seq 5, boot id 2): the next boot is boot 3 again and
    # opens seq 5 as boot 3's segment, the seq and key of a record the host holds. Without the link seeing that
    # the host acks a seq this boot never sent, the host merged the new walk into the old record, on the old day.
    # With a minute recorded right after the sync sets the clock (the main loop runs between requests), the segment
    # closes then: the ack must come first, or the closed segment keeps seq 5 and merges all the same.
    board = week_of_walking(tmp_path / "flash")
    database = tmp_path / "walkdose.sqlite"
    assert sync_over(Cable(board), database) is None
    before_boot_3 = tmp_path / "old-revision"
    shutil.copytree(board.store.root, str(before_boot_3))
    board.reboot()
    board.walk(30)  # boot 3, no clock: a segment, seq 5
    board.ticks.ms += 60 * 60_000
    assert sync_over(Cable(board), database, SYNC_EPOCH_S + 86400) is None
    with contextlib.closing(sqlite3.connect(str(database))) as conn:
        [(first_boot_3_start,)] = conn.execute("SELECT start_epoch_s FROM records WHERE seq = 5").fetchall()
    shutil.rmtree(board.store.root)
    shutil.copytree(str(before_boot_3), board.store.root)
    board.reboot()
    board.walk(20, steps_per_min=100)
    board.ticks.ms += 30 * 60_000
    synced_s = SYNC_EPOCH_S + 5 * 86400
    uptime_s = board.clock.uptime_ms() // 1000
    client = Answers(board)
    if minute_during_sync:
        def set_time(*args):
            answer = client.client.set_time(*args)
            board.minute(60, 100, 2, movement_mg=300)
            return answer
        client.overrides["set_time"] = set_time
    with contextlib.closing(db.open_db(str(database))) as conn:
        sync.sync_device(client, conn, "cable", now=lambda: synced_s, say=lambda message: None)
    conn = sqlite3.connect(str(database))
    records = conn.execute("SELECT seq, key >> 8, segment, steps, start_epoch_s, placement FROM records "
                           "WHERE seq >= 5 ORDER BY seq").fetchall()
    assert records[0] == (5, 3, 1, 30 * 110, first_boot_3_start, "current_boot")  # as the last sync left it
    assert conn.execute("SELECT COUNT(*), SUM(steps) FROM minutes WHERE seq = 5").fetchone() == (30, 30 * 110)
    if minute_during_sync:  # the day the clock opened, after the segment
        day = records.pop()
        assert (day[0], day[2], day[3]) == (7, 0, 100)
    [(seq, boot, segment, steps, start, how)] = records[1:]
    closed_by_the_clock = "anchored" if minute_during_sync else "current_boot"  # both exact: this boot's own base
    assert (seq, boot, segment, steps, how) == (6, 3 + 5 * store.ROLLBACK_BOOT_STRIDE, 1, 20 * 100, closed_by_the_clock)
    assert start == synced_s - uptime_s  # its own boot's uptime 0, four days after the first
    assert first_boot_3_start < start - 3 * 86400
    assert conn.execute("SELECT lost_detail, lost_summary FROM losses").fetchone() == (1, 1)


# ---- what a sync says, and what it refuses ------------------------------------------------------

class Answers:
    """A protocol.Client over a Cable whose answers the test overrides by name; the rest pass through."""

    def __init__(self, board, **overrides):
        self.client = protocol.Client(Cable(board))
        self.overrides = overrides

    def __getattr__(self, name):
        return self.overrides.get(name) or getattr(self.client, name)


def sync_saying(client, conn):
    messages = []
    summary = sync.sync_device(client, conn, "cable", now=lambda: SYNC_EPOCH_S, say=messages.append)
    return summary, messages


def test_a_first_and_a_second_sync_say_what_they_fetch_and_no_rollback(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    _, first = sync_saying(protocol.Client(Cable(board)), conn)
    assert first[1] == "4 record(s) to fetch"
    assert [m for m in first if m.startswith("the device")] == []  # a new database holds no seq to have lost
    # one of the four (seq 1, boot 1) is a segment: made before any sync set the clock
    assert first[-1] == ("1 record(s) were made before the board's clock was set; they are placed on the "
                         "calendar from the board's uptime")
    _, second = sync_saying(protocol.Client(Cable(board)), conn)  # the device still knows seq 3, acked
    assert second == [first[0], "1 record(s) to fetch", second[2]] and second[2].startswith("[1/1] day 2026-03-04")
    conn.close()


@pytest.mark.parametrize("battery_mv, shown", [(4206, "4.21 V"), (0, "0.00 V"), (-1, "battery unknown")])
def test_the_battery_is_shown_in_volts_or_as_unknown(tmp_path, battery_mv, shown):
    board = week_of_walking(tmp_path / "flash")
    client = Answers(board)
    client.overrides["info"] = lambda: dict(client.client.info(), battery_mv=battery_mv)
    _, messages = sync_saying(client, db.open_db(str(tmp_path / "walkdose.sqlite")))
    assert messages[0] == f"device e3a1f09c2b7d4410 (xiao-nrf52840-sense, firmware 0.1.0, {shown}) on cable"


@pytest.mark.parametrize("lost_detail, lost_summary, quarantined, failed_writes", [
    (1, 1, 0, 0), (2, 0, 0, 0), (0, 0, 3, 0), (0, 0, 0, 1)])
def test_the_devices_losses_are_said_when_any_counter_is_not_zero(tmp_path, lost_detail, lost_summary,
                                                                    quarantined, failed_writes):
    board = week_of_walking(tmp_path / "flash")
    client = Answers(board)
    counters = dict(lost_detail=lost_detail, lost_summary=lost_summary, quarantined=quarantined,
                    failed_writes=failed_writes)
    client.overrides["losses"] = lambda: dict(client.client.losses(), **counters)
    _, messages = sync_saying(client, db.open_db(str(tmp_path / "walkdose.sqlite")))
    assert (f"the device reports {lost_detail} minute record(s) and {lost_summary} day summary(ies) dropped when "
            f"its store was full or its flash rolled back, {quarantined} damaged file(s), {failed_writes} failed "
            "write(s)") in messages


def test_a_record_gone_from_the_device_is_acked_and_said_lost(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    client = Answers(board)
    # The device answers the fetch of seq 2 with nothing, as one that dropped the record does.
    client.overrides["fetch"] = lambda seq: client.client.fetch(seq) and b"" if seq == 2 else client.client.fetch(seq)
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    summary, messages = sync_saying(client, conn)
    assert "[2/4] day 2026-03-02: no longer on the device (counted as lost)" in messages
    assert summary == "synced 3 record(s) from e3a1f09c2b7d4410 into the database"
    assert [seq for (seq,) in conn.execute("SELECT seq FROM records ORDER BY seq")] == [1, 3, 4]
    assert board.store.acked_seq == 3


def test_firmware_that_refuses_an_unknown_seq_is_told_of_a_rollback_and_other_errors_stop_the_sync(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    sync_saying(protocol.Client(Cable(board)), conn)  # the database now holds seqs 1..4

    def refusing(status):
        asked = []

        def ack(seq):
            asked.append(seq)
            if len(asked) == 1:  # the ack before listing: the open day, seq 4, was never given as acked
                raise protocol.ErrorStatus("ack: error", status)
            return client.client.ack(seq)
        return ack

    client = Answers(board)
    client.overrides["ack"] = refusing(4)  # docs/protocol.md 'Error codes': 4 bad value
    _, messages = sync_saying(client, conn)
    assert messages[-1] == ("the device no longer knows seq 4, which the database holds: its flash went back to an "
                            "older state, and records made after the previous sync are lost")
    client = Answers(board)
    client.overrides["ack"] = refusing(3)
    with pytest.raises(UserError) as refused:
        sync_saying(client, conn)
    assert str(refused.value) == ("the device on cable answered wrongly: ack: error; run walkdose sync again, and "
                                  "if it repeats, update walkdose and the board's firmware together")
    conn.close()


def test_a_cable_cut_before_the_list_names_no_records(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    client = Answers(board)

    def cut(*args):
        raise OSError(5, "Input/output error")
    client.overrides["set_time"] = cut
    with pytest.raises(UserError) as lost:
        sync_saying(client, db.open_db(str(tmp_path / "walkdose.sqlite")))
    assert str(lost.value) == ("lost the connection to cable after 0 of 0 records ([Errno 5] Input/output error); "
                               "everything stored so far is kept: run walkdose sync again to fetch the rest")


@pytest.mark.parametrize("target, accepted", [(0, False), (1, True), (1440, True), (1441, False)])
def test_a_target_is_1_to_1440_minutes(monkeypatch, capsys, target, accepted):
    # docs/protocol.md 'set time': target_min 1..1440
    monkeypatch.setattr(sync, "sync_port", lambda port, db_path, target_min: f"synced to {port} cueing {target_min}")
    args = argparse.Namespace(port="loop://", db=None, target=target)
    if accepted:
        assert sync.run(args) == 0 and capsys.readouterr().out == f"synced to loop:// cueing {target}\n"
    else:
        with pytest.raises(UserError) as refused:
            sync.run(args)
        assert str(refused.value) == f"--target {target}: a daily walking target is 1..1440 minutes"


def test_progress_goes_to_stderr_prefixed(capsys):
    sync.progress("3 record(s) to fetch")
    assert capsys.readouterr() == ("", "walkdose: 3 record(s) to fetch\n")


def test_refusals_to_open_a_port_are_whole_lines(tmp_path):
    with pytest.raises(UserError) as refused:
        sync.open_port("loop://", 1200)
    assert str(refused.value) == ("loop://: refusing to open at 1200 baud, the rate that reboots nRF52840 and "
                                  "RP2040 boards into their bootloader")
    with pytest.raises(UserError) as missing:
        sync.open_port(str(tmp_path / "ttyACM9"))
    assert str(missing.value).startswith(f"cannot open {tmp_path / 'ttyACM9'}: ")
    assert str(missing.value).endswith(". Check the board is plugged in and the path "
                                       "(ls /dev/ttyACM* /dev/cu.usbmodem*, or COMn on Windows)")


def test_sync_port_cues_the_given_target_else_the_plans_and_holds_the_port_alone(board_on_pty, tmp_path):
    board, link, path = board_on_pty
    database = str(tmp_path / "walkdose.sqlite")
    assert cli.main(["plan", "--goal", "60", "--db", database]) == 0
    assert sync.sync_port(path, database, 90).startswith("synced 4 record(s)")
    assert link.target_min == 90
    assert sync.sync_port(path, database).startswith("synced 1 record(s)")
    assert link.target_min == 60
    with contextlib.closing(sync.open_port(path)):
        with pytest.raises(UserError) as busy:
            sync.open_port(path)
    assert str(busy.value) == (f"port busy: another program (another walkdose sync, mpremote, a serial monitor) "
                               f"has {path} open; close it and sync again")


@pytest.mark.parametrize("failure, message", [
    (serial.SerialException("device disconnected"), "lost the connection to cable during the handshake (device "
     "disconnected); nothing has changed: run walkdose sync again"),
    (protocol.ProtocolError("info: 3 payload bytes, fewer than 24"), "the device on cable answered the handshake "
     "wrongly: info: 3 payload bytes, fewer than 24")])
def test_a_handshake_that_fails_says_how_in_one_line(tmp_path, failure, message):
    board = week_of_walking(tmp_path / "flash")

    def info():
        raise failure
    with pytest.raises(UserError) as failed:
        sync_saying(Answers(board, info=info), db.open_db(str(tmp_path / "walkdose.sqlite")))
    assert str(failed.value) == message


def test_a_record_the_database_refuses_is_named_with_its_device(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    with pytest.raises(UserError) as refused:
        sync_saying(Answers(board, fetch=lambda seq: b"\x00" * 8), db.open_db(str(tmp_path / "walkdose.sqlite")))
    assert str(refused.value).startswith("device e3a1f09c2b7d4410: seq 1")
