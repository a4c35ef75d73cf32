"""The IMU's lost samples reach the user: the link's sensor command (docs/protocol.md) answers the main
loop's counters, an older board answers error 2 and the sync carries on, the host keeps one snapshot
per boot (docs/db-schema.md, sensor_health), and sync and report say when samples were lost."""
import json
import pathlib
import sqlite3
import struct
import tempfile

import pytest

from link_harness import SYNC_EPOCH_S, Board, Cable, Identity, cut_sweep, database_rows, week_of_walking
from test_protocol import Wire, hand_built_request
from conftest import RUN_MIN
from test_sim_board import simulator
from walkdose import cli, db, protocol, sync
from walkdose.errors import UserError

DEVICE = "e3a1f09c2b7d4410"  # link_harness.Identity's
UNDERCOUNTED = "walking minutes around them may be undercounted"


def counting_board(root, samples, overflows, faults, identity=None):
    """A board whose main loop holds these IMU counters, after 5 minutes walked and 3 at rest (8 minutes
    up, one open day record)."""
    board = Board(root, identity, imu_counters=True)
    board.set_local(8 * 60)
    board.walk(5)
    board.rest(3)
    set_counters(board, samples, overflows, faults)
    return board


def set_counters(board, samples, overflows, faults):
    board.wearable.samples_read = samples
    board.wearable.imu.overflows = overflows
    board.wearable.imu_faults = faults


def walk_and_rest(board, walk_min):
    """Walk, then a minute at rest, which writes the walk to flash (a bout just ended)."""
    board.walk(walk_min)
    board.rest(1)


def sync_once(board, conn, epoch_s=SYNC_EPOCH_S):
    messages = []
    summary = sync.sync_device(protocol.Client(Cable(board)), conn, "cable", now=lambda: epoch_s,
                               say=messages.append)
    return summary, messages


def health_rows(conn):
    return conn.execute("SELECT device_id, boot_id, epoch_s, uptime_s, samples, overflows, faults "
                        "FROM sensor_health ORDER BY device_id, boot_id").fetchall()


@pytest.fixture
def conn(tmp_path):
    connection = db.open_db(str(tmp_path / "walkdose.sqlite"))
    yield connection
    connection.close()


# ---- the device ------------------------------------------------------------------------------

def test_the_link_answers_the_counters_the_main_loop_holds(tmp_path):
    board = counting_board(tmp_path / "flash", 24_960, 7, 3)  # 8 min at 52 Hz
    wire = Wire(board)
    [(version, command, status, tag, payload)] = wire.send(hand_built_request(0x07))
    assert (version, command, status, tag) == (1, 0x87, 0, 0x1234)
    # boot 1, 8 minutes up, then the hand-set counters, as the table's five u32
    assert payload == struct.pack("<IIIII", 1, 480, 24_960, 7, 3)
    set_counters(board, 2**32 + 5, 0, 0)  # past a u32: it saturates, it never wraps to a small count
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x07))
    assert (status, struct.unpack_from("<I", payload, 8)[0]) == (0, 0xFFFFFFFF)
    assert wire.send(hand_built_request(0x07, b"\x00"))[0][1:3] == (0x87, 3)  # the request has no payload
    assert protocol.Client(Cable(board)).sensor() == {"boot_id": 1, "uptime_s": 480, "samples": 0xFFFFFFFF,
                                                      "overflows": 0, "faults": 0}


def test_a_board_without_counters_answers_error_2_and_the_sync_stores_nothing(tmp_path, conn):
    board = week_of_walking(tmp_path / "flash")  # its link has no IMU counters, like firmware before 0x07
    [(_, command, status, _, payload)] = Wire(board).send(hand_built_request(0x07))
    assert (command, status, payload) == (0x87, 2, b"")
    assert protocol.Client(Cable(board)).sensor() is None
    summary, messages = sync_once(board, conn)
    assert summary == f"synced 4 record(s) from {DEVICE} into the database"  # one line, no warning
    assert not any("IMU" in m for m in messages)
    assert health_rows(conn) == []
    assert conn.execute("SELECT device_id, boot_id FROM losses").fetchall() == [(DEVICE, 2)]


def test_another_error_to_the_sensor_command_fails_the_sync(tmp_path, conn, monkeypatch):
    """Only error 2 means 'not supported'; any other is the device answering wrongly."""
    board = counting_board(tmp_path / "flash", 100, 0, 0)
    answer = board.link._answer
    monkeypatch.setattr(board.link, "_answer", lambda command: (4, 0) if command == 0x07 else answer(command))
    with pytest.raises(UserError, match=r"answered wrongly: sensor: the device answered error 4 \(bad value\)"):
        sync_once(board, conn)
    assert health_rows(conn) == []


# ---- the host -------------------------------------------------------------------------------

def test_each_boot_keeps_its_latest_snapshot_and_the_summary_says_when_samples_were_lost(tmp_path, conn):
    board = counting_board(tmp_path / "flash", 24_000, 2, 0)
    summary, _ = sync_once(board, conn)
    assert summary.splitlines() == [
        f"synced 1 record(s) from {DEVICE} into the database",
        f"the board's IMU lost samples this boot: 2 FIFO overflow(s) and 0 failed IMU read(s); {UNDERCOUNTED}"]
    assert health_rows(conn) == [(DEVICE, 1, SYNC_EPOCH_S, 480, 24_000, 2, 0)]

    walk_and_rest(board, 2)  # same boot, 11 minutes up, more counted: the boot's row is replaced
    set_counters(board, 34_000, 3, 1)
    summary, _ = sync_once(board, conn, SYNC_EPOCH_S + 180)
    assert "3 FIFO overflow(s) and 1 failed IMU read(s)" in summary
    assert health_rows(conn) == [(DEVICE, 1, SYNC_EPOCH_S + 180, 660, 34_000, 3, 1)]

    board.reboot()  # RAM lost: the counters start again; boot 1's row stays
    walk_and_rest(board, 1)
    set_counters(board, 6_200, 0, 4)
    summary, _ = sync_once(board, conn, SYNC_EPOCH_S + 600)
    assert summary.splitlines()[1] == (f"the board's IMU lost samples this boot: 0 FIFO overflow(s) and "
                                       f"4 failed IMU read(s); {UNDERCOUNTED}")
    assert health_rows(conn) == [(DEVICE, 1, SYNC_EPOCH_S + 180, 660, 34_000, 3, 1),
                                 (DEVICE, 2, SYNC_EPOCH_S + 600, 120, 6_200, 0, 4)]

    board.reboot()
    walk_and_rest(board, 1)
    set_counters(board, 6_240, 0, 0)  # a clean boot: kept, and nothing to warn about
    summary, _ = sync_once(board, conn, SYNC_EPOCH_S + 900)
    assert len(summary.splitlines()) == 1
    assert health_rows(conn)[2] == (DEVICE, 3, SYNC_EPOCH_S + 900, 120, 6_240, 0, 0)


def test_a_sync_cut_in_the_last_steps_then_resumed_equals_a_clean_sync(tmp_path):
    """Every byte offset from the last ack's answer on (losses, sensor): a snapshot is stored whole or not."""
    template = counting_board(tmp_path / "template", 24_000, 2, 1)
    clean = Cable(template.clone(tmp_path / "clean"))
    conn = db.open_db(str(tmp_path / "clean.sqlite"))
    sync.sync_device(protocol.Client(clean), conn, "cable", now=lambda: SYNC_EPOCH_S, say=lambda m: None)
    reference = database_rows(conn)
    conn.close()
    assert reference["sensor_health"] == [(DEVICE, 1, SYNC_EPOCH_S, 480, 24_000, 2, 1)]
    offsets = range(clean.line_ends[-5], clean.crossed + 1)  # losses and sensor: 4 lines after the ack's answer
    with tempfile.TemporaryDirectory() as workdir:
        results = list(cut_sweep(template, pathlib.Path(workdir), offsets))
    assert len(results) > 100 and all(rows == reference for _, _, rows in results)


def test_a_database_from_before_the_table_gets_it_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    db.open_db(str(path)).close()
    old = sqlite3.connect(str(path))  # as walkdose wrote schema 1 before sensor_health existed
    old.execute("DROP TABLE sensor_health")
    old.execute("INSERT INTO plan VALUES (1, 90, 5, NULL)")
    old.commit()
    old.close()
    conn = db.open_db(str(path))
    columns = [(c[1], c[2]) for c in conn.execute("PRAGMA table_info(sensor_health)")]
    assert columns == [("device_id", "TEXT"), ("boot_id", "INTEGER"), ("epoch_s", "INTEGER"),
                       ("uptime_s", "INTEGER"), ("samples", "INTEGER"), ("overflows", "INTEGER"),
                       ("faults", "INTEGER")]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # an added table is not a new version
    assert conn.execute("SELECT goal_min FROM plan").fetchone() == (90,)
    conn.close()


def test_report_warns_with_each_devices_totals_over_its_boots(tmp_path, capsys):
    path = str(tmp_path / "walkdose.sqlite")
    conn = db.open_db(path)
    lossy = counting_board(tmp_path / "a", 24_000, 2, 0)
    sync_once(lossy, conn)
    lossy.reboot()
    walk_and_rest(lossy, 1)
    set_counters(lossy, 6_200, 3, 4)
    sync_once(lossy, conn, SYNC_EPOCH_S + 600)
    clean = counting_board(tmp_path / "b", 24_960, 0, 0, Identity(device_id="5c0ffee000000001"))
    sync_once(clean, conn)
    conn.close()

    assert cli.main(["report", "--db", path]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "IMU" in line]
    assert warnings == [f"Device {DEVICE}'s IMU lost samples: 5 FIFO overflow(s) and 4 failed IMU read(s) over "
                        f"2 synced boot(s); {UNDERCOUNTED}."]
    assert cli.main(["report", "--db", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["sensor_health"] == [
        {"device_id": "5c0ffee000000001", "boots": 1, "samples": 24_960, "overflows": 0, "faults": 0},
        {"device_id": DEVICE, "boots": 2, "samples": 30_200, "overflows": 5, "faults": 4}]
    assert cli.main(["report", "--db", path, "--device", "5c0ffee000000001"]) == 0
    assert "IMU" not in capsys.readouterr().out


# ---- the simulated board: the real firmware, main loop and driver ----------------------------

def synced_snapshot(sim, tmp_path, capsys):
    db_path = str(tmp_path / "walkdose.sqlite")
    assert cli.main(["sync", "--port", sim.pty_path, "--db", db_path]) == 0
    out = capsys.readouterr().out
    conn = sqlite3.connect(db_path)
    [row] = conn.execute("SELECT boot_id, uptime_s, samples, overflows, faults FROM sensor_health").fetchall()
    conn.close()
    return out, dict(zip(("boot_id", "uptime_s", "samples", "overflows", "faults"), row))


def test_a_late_main_loop_is_reported_by_sync_as_fifo_overflows(tmp_path, noon, capsys):
    events = []
    with simulator(tmp_path, noon, late=[3, 20000]) as sim:  # every 3 min, 20 s late: the FIFO holds 13 s
        sim.wait_for("caught_up", 120, on_event=events.append)
        out, snapshot = synced_snapshot(sim, tmp_path, capsys)
        sim.stop()
        sim.wait_for("stopped", 30, on_event=events.append)
    lates = sum(1 for e in events if e["event"] == "late")
    stopped = events[-1]
    assert snapshot["boot_id"] == 1 and snapshot["faults"] == 0
    # one late wake-up every 3 minutes of a 40-minute run, each one overflow; the board counts on to its stop
    assert RUN_MIN // 3 - 1 <= snapshot["overflows"] <= stopped["imu_overflows"]
    # 52 samples a second of the boot, less at most the 20 s of each late wake-up and the 3 s the FIFO may
    # hold unread at the sync (measured: 13 overflows, 109 s lost in a 2,405 s boot)
    assert 52 * (snapshot["uptime_s"] - 20 * lates - 3) <= snapshot["samples"] <= 52 * (snapshot["uptime_s"] + 1)
    assert (f"the board's IMU lost samples this boot: {snapshot['overflows']} FIFO overflow(s) and 0 failed "
            f"IMU read(s); {UNDERCOUNTED}") in out


def test_an_imu_that_stops_answering_is_reported_by_sync_as_failed_reads(tmp_path, noon, capsys):
    silent_s = (20 * 60, 28 * 60)
    with simulator(tmp_path, noon, imu_silent_s=list(silent_s)) as sim:
        sim.wait_for("caught_up", 120)
        out, snapshot = synced_snapshot(sim, tmp_path, capsys)
    # The loop reads once per watermark (1.5 s of samples), and each read of the silent bus fails: 8 min / 1.5 s
    expected = (silent_s[1] - silent_s[0]) * 2 // 3
    assert expected - 3 <= snapshot["faults"] <= expected + 3
    assert snapshot["overflows"] >= 1  # the chip kept sampling into its full FIFO meanwhile
    # 52 samples a second, less the 8 silent minutes of which the full FIFO's last 13 s reach the loop
    lost_s = silent_s[1] - silent_s[0]
    assert 52 * (snapshot["uptime_s"] - lost_s - 3) <= snapshot["samples"] <= 52 * (snapshot["uptime_s"] - lost_s + 14)
    assert f"{snapshot['faults']} failed IMU read(s); {UNDERCOUNTED}" in out
