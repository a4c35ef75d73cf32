"""Both ends of the sync protocol against docs/protocol.md: the tables are parsed from the markdown,
requests built by hand from them must be answered as the text says, and the host client and the
firmware Link must each follow the text (resync on noise, retries, errors, chunked fetch)."""
import datetime
import os
import pathlib
import re
import struct
import subprocess
import time
import zlib

import pytest

from firmware import link, store
from link_harness import DAY, Board, Cable, Identity, week_of_walking
from walkdose import protocol

SPEC = (pathlib.Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
STRUCT_CODE = {"u8": "B", "u16": "H", "u32": "I", "i16": "h", "i32": "i"}
SIZE = {"u8": 1, "u16": 2, "u32": 4, "i16": 2, "i32": 4}


def spec_rows(heading):
    """Cells of the rows of the first table after a markdown heading (header and rule skipped)."""
    section = SPEC.split("\n" + heading + "\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
        elif rows:
            break
    return rows[2:]


def layout(heading, start=0):
    """struct code and byte size of a payload table's fixed fields, checking every offset."""
    code, offset = "<", start
    for row_offset, kind, field, meaning in spec_rows(heading):
        if kind not in STRUCT_CODE:
            continue
        assert int(row_offset) == offset, "%s: spec offset %s, expected %d" % (field, row_offset, offset)
        code += STRUCT_CODE[kind]
        offset += SIZE[kind]
    return code, offset - start


def limit(name):
    return int(dict((r[0], r[1]) for r in spec_rows("## Limits"))[name].split()[0].replace(",", ""))


def hand_built_request(command, payload=b"", tag=0x1234, version=1):
    """A request line assembled from the frame table, with zlib's CRC32."""
    frame = bytes([version, command, 0]) + struct.pack("<HH", tag, len(payload)) + payload
    return b"~" + (frame + struct.pack("<I", zlib.crc32(frame))).hex().encode() + b"\n"


def hand_parsed_responses(text):
    """(version, command, status, tag, payload) of every line the device wrote, parsed by hand."""
    frames = []
    for line in text.split(b"\n")[:-1]:
        assert re.fullmatch(rb"~[0-9a-f]+", line), line
        frame = bytes.fromhex(line[1:].decode())
        length = struct.unpack_from("<H", frame, 5)[0]
        assert len(frame) == 7 + length + 4
        assert struct.unpack_from("<I", frame, 7 + length)[0] == zlib.crc32(frame[:7 + length])
        frames.append((frame[0], frame[1], frame[2], struct.unpack_from("<H", frame, 3)[0], frame[7:7 + length]))
    return frames


class Wire:
    """The device's port as a test drives it: bytes in, every written byte captured."""

    def __init__(self, board):
        self.board = board
        self.written = bytearray()
        board.port.sink = self.written.extend

    def send(self, data):
        self.board.port.incoming += data
        self.board.serve()
        answers = hand_parsed_responses(bytes(self.written))
        self.written.clear()
        return answers


@pytest.fixture
def board(tmp_path):
    board = Board(tmp_path / "flash")
    board.set_local(8 * 60)
    board.walk(5)
    board.rest(3)
    return board


# ---- the text and the constants ------------------------------------------------------------

def test_frame_table_is_the_header_both_ends_use():
    rows = spec_rows("## Frame layout")
    assert [r[2] for r in rows] == ["version", "command", "status", "tag", "length", "payload", "crc32"]
    header = rows[:5]
    assert [int(r[0]) for r in header] == [0, 1, 2, 3, 5]
    assert "<" + "".join(STRUCT_CODE[r[1]] for r in header) == link.HEADER
    assert sum(SIZE[r[1]] for r in header) == link.HEADER_BYTES == 7
    assert rows[5][:2] == ["7", "bytes"] and rows[6][:2] == ["7 + length", "u32"]
    assert rows[0][3].startswith("%d;" % link.PROTOCOL_VERSION)
    assert "(code \\| 0x%02x)" % link.RESPONSE in rows[1][3]


def test_limits_table_matches_the_buffers():
    assert limit("request payload") == link.MAX_REQUEST_PAYLOAD
    assert limit("response payload") == link.MAX_PAYLOAD
    assert link.REQUEST_FRAME_BYTES == 7 + link.MAX_REQUEST_PAYLOAD + 4
    assert link.RESPONSE_FRAME_BYTES == 7 + link.MAX_PAYLOAD + 4
    assert limit("request line") == 1 + 2 * link.REQUEST_FRAME_BYTES + 1 == 88
    assert limit("response line") == 1 + 2 * link.RESPONSE_FRAME_BYTES + 1 == protocol.MAX_RESPONSE_LINE
    assert limit("fetch chunk") == link.FETCH_CHUNK_BYTES == link.MAX_PAYLOAD - link.FETCH_HEAD_BYTES
    assert limit("list entries per response") == link.LIST_MAX_ENTRIES == (link.MAX_PAYLOAD - 2) // 9
    assert limit("device input per serve() call") == link.SERVE_INPUT_BYTES
    assert "one request buffer of %d bytes" % link.REQUEST_FRAME_BYTES in SPEC
    assert "has %d" % link.SET_TIME_REQUEST_BYTES in SPEC


def test_limits_of_a_sync_table_is_the_hosts():
    rows = {r[0].strip("`"): r[1] for r in spec_rows("## Limits of a sync")}
    assert set(rows) == {"MAX_LIST_ENTRIES", "MAX_RECORD_BYTES", "MAX_SYNC_BYTES", "MAX_SYNC_S"}
    assert rows["MAX_LIST_ENTRIES"] == "10,000 records" and protocol.MAX_LIST_ENTRIES == 10_000
    # a segment's summary record (14 + 34 + 4) and a minutes record of 1,500 four-byte tokens (14 + 2 + 6000 + 4)
    assert rows["MAX_RECORD_BYTES"] == "6,072 bytes" and protocol.MAX_RECORD_BYTES == 52 + 6020
    assert rows["MAX_SYNC_BYTES"] == "4 MiB" and protocol.MAX_SYNC_BYTES == 4 * 2 ** 20
    assert rows["MAX_SYNC_S"] == "1,800 s" and protocol.MAX_SYNC_S == 1800


def test_commands_table_names_the_codes_and_payload_tables():
    codes = {"info": link.INFO, "set time": link.SET_TIME, "list": link.LIST, "fetch": link.FETCH,
             "ack": link.ACK, "losses": link.LOSSES, "sensor": link.SENSOR}
    rows = spec_rows("## Commands")
    assert {r[1]: int(r[0], 16) for r in rows} == codes
    assert protocol.COMMAND_NAMES == {code: name for name, code in codes.items()}
    for code, name, request, response in rows:
        for table in (request, response):
            if table != "none":
                assert "\n### %s%s\n" % (table[0].upper(), table[1:]) in SPEC, table


@pytest.mark.parametrize("heading, code, size", [
    ("### Device info", link.INFO_HEAD, link.INFO_HEAD_BYTES),
    ("### Set time request", link.SET_TIME_REQUEST, link.SET_TIME_REQUEST_BYTES),
    ("### Set time response", link.SET_TIME_RESPONSE, 8),
    ("### List request", link.LIST_REQUEST, 4),
    ("### List response", link.LIST_HEAD, 2),
    ("### Fetch request", link.FETCH_REQUEST, 8),
    ("### Fetch response", link.FETCH_HEAD, link.FETCH_HEAD_BYTES),
    ("### Ack request", link.ACK_REQUEST, 4),
    ("### Ack response", link.ACK_RESPONSE, 4),
    ("### Losses response", link.LOSSES_RESPONSE, 36),
    ("### Sensor response", link.SENSOR_RESPONSE, link.SENSOR_RESPONSE_BYTES),
])
def test_payload_tables_are_the_layouts_in_the_code(heading, code, size):
    assert layout(heading) == (code, size) == (code, struct.calcsize(code))


def test_list_entry_table_and_losses_field_names(board):
    section = SPEC.split("### List response", 1)[1].split("Then `count` entries", 1)[1]
    entry = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)][:3]
    assert [c.split("|")[3].strip() for c in entry] == ["seq", "key", "flags"]
    assert struct.calcsize(link.LIST_ENTRY) == link.LIST_ENTRY_BYTES == 9 and link.LIST_ENTRY == "<IIB"
    fields = [r[2] for r in spec_rows("### Losses response")]
    assert tuple(fields) == protocol.STORE_REPORT_KEYS + protocol.LINK_KEYS
    assert set(protocol.STORE_REPORT_KEYS) == set(board.store.report())
    assert tuple(r[2] for r in spec_rows("### Sensor response")) == protocol.SENSOR_KEYS


def test_error_table_is_the_codes_both_ends_use():
    rows = spec_rows("## Error codes")
    table = {int(r[0]): r[1] for r in rows}
    assert table[0] == "ok" and link.OK == 0
    assert {code: name for code, name in table.items() if code} == protocol.STATUS_NAMES
    assert (link.ERR_VERSION, link.ERR_UNKNOWN_COMMAND, link.ERR_BAD_LENGTH, link.ERR_BAD_VALUE,
            link.ERR_BAD_OFFSET, link.ERR_STORE) == (1, 2, 3, 4, 5, 6)


def test_timing_and_retry_numbers_in_the_text():
    assert "up to %g s for each response" % protocol.RESPONSE_TIMEOUT_S in SPEC
    assert "at most %d times, each with a new tag" % protocol.ATTEMPTS in SPEC
    assert "(at most %d times)" % protocol.FETCH_RESTARTS in SPEC
    assert "within +/-%d" % link.MAX_OFFSET_S in SPEC and "1..%d" % link.MAX_TARGET_MIN in SPEC
    assert "(host default %d)" % link.DEFAULT_TARGET_MIN in SPEC


# ---- the device against hand-built requests ------------------------------------------------

def test_info_answers_a_hand_built_request_as_the_table_says(board):
    [(version, command, status, tag, payload)] = Wire(board).send(hand_built_request(0x01))
    assert (version, command, status, tag) == (1, 0x81, 0, 0x1234)
    protocol_version, boot_id, uptime_s, clock_set, battery_mv, target_min = struct.unpack_from("<BIIBhH", payload)
    assert (protocol_version, boot_id, clock_set, battery_mv, target_min) == (1, 1, 1, 3912, 100)
    assert uptime_s == 8 * 60  # eight minutes recorded, the ticks moved 60 s each
    strings, at = [], 14
    while at < len(payload):
        strings.append(payload[at + 1:at + 1 + payload[at]].decode())
        at += 1 + payload[at]
    assert strings == ["e3a1f09c2b7d4410", "xiao-nrf52840-sense", "0.1.0"]


def test_set_time_sets_clock_offset_dst_and_target(board):
    epoch_s = DAY * 86400 + 12 * 3600  # 13:00 local at UTC+1
    change_s = epoch_s + 3 * 3600
    request = struct.pack("<IiIiH", epoch_s, 3600, change_s, 7200, 85)
    [(_, command, status, _, payload)] = Wire(board).send(hand_built_request(0x02, request))
    assert (command, status) == (0x82, 0)
    assert struct.unpack("<II", payload) == (board.clock.uptime_ms() // 1000, epoch_s)
    assert board.link.target_min == 85
    assert board.clock.utc_offset_s(epoch_s) == 3600 and board.clock.utc_offset_s(change_s) == 7200
    no_change = struct.pack("<IiIiH", epoch_s, -18000, 0xFFFFFFFF, 0, 100)
    Wire(board).send(hand_built_request(0x02, no_change))
    assert board.clock.utc_offset_s(epoch_s + 400 * 86400) == -18000


@pytest.mark.parametrize("offset_s, next_offset_s, target_min", [(64801, 0, 100), (0, -64801, 100), (0, 0, 0),
                                                                 (0, 0, 1441)])
def test_set_time_refuses_values_out_of_range(board, offset_s, next_offset_s, target_min):
    before = board.clock.epoch_s()
    request = struct.pack("<IiIiH", 1_772_900_000, offset_s, 0xFFFFFFFF, next_offset_s, target_min)
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x02, request))
    assert (status, payload) == (4, b"")
    assert board.clock.epoch_s() == before and board.link.target_min == 100


@pytest.mark.parametrize("offset_s, next_offset_s, target_min", [(64800, 0, 100), (-64800, 0, 100), (0, 64800, 100),
                                                                 (0, -64800, 100), (0, 0, 1), (0, 0, 1440)])
def test_set_time_takes_offsets_of_18_hours_and_targets_of_1_to_1440_minutes(board, offset_s, next_offset_s,
                                                                             target_min):
    """'within +/-64800' (ISO 8601's widest offsets) and a target of 1 to 1,440 minutes, both ends included."""
    request = struct.pack("<IiIiH", 1_772_900_000, offset_s, 0xFFFFFFFF, next_offset_s, target_min)
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x02, request))
    assert status == 0 and board.link.target_min == target_min
    assert board.clock.utc_offset_s(1_772_900_000) == offset_s


def utc_epoch(*date_time):
    return int(datetime.datetime(*date_time, tzinfo=datetime.timezone.utc).timestamp())


@pytest.mark.parametrize("epoch_s, offset_s", [(utc_epoch(1970, 1, 1, 0, 30), -3600),  # local day -1
                                               (utc_epoch(2025, 12, 31, 23, 59, 59), 0),  # before the build
                                               (utc_epoch(2100, 1, 1), 0)])
def test_set_time_refuses_a_time_before_the_firmware_was_built_or_from_2100(tmp_path, epoch_s, offset_s):
    board = Board(tmp_path / "flash")
    request = struct.pack("<IiIiH", epoch_s, offset_s, 0xFFFFFFFF, 0, 100)
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x02, request))
    assert (status, payload) == (4, b"")
    assert not board.clock.is_set()
    board.walk(2)  # the minutes stay in this boot's unknown-time segment, never on a wrong day
    assert [flags for seq, key, flags in board.store.unsynced()] == [store.FLAG_SEGMENT]


@pytest.mark.parametrize("epoch_s", [utc_epoch(2026, 1, 1), utc_epoch(2038, 1, 19, 3, 14, 8),
                                     utc_epoch(2099, 12, 31, 23, 59, 59)])
def test_set_time_accepts_the_build_day_past_2038_and_up_to_2100(board, epoch_s):
    request = struct.pack("<IiIiH", epoch_s, 0, 0xFFFFFFFF, 0, 100)
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x02, request))
    assert status == 0 and struct.unpack("<II", payload)[1] == epoch_s


def test_list_fetch_ack_from_hand_built_requests(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    wire = Wire(board)
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x03, struct.pack("<I", 0)))
    more, count = payload[0], payload[1]
    entries = [struct.unpack_from("<IIB", payload, 2 + 9 * i) for i in range(count)]
    assert (status, more) == (0, 0)
    assert entries == [(1, 1 << 8, 1), (2, DAY, 0), (3, DAY + 1, 0), (4, DAY + 2, 0)]
    expected = board.store.read(3)
    assert len(expected) > 496  # the 240-minute day takes two chunks
    got = b""
    while len(got) < len(expected):
        [(_, _, status, _, payload)] = wire.send(hand_built_request(0x04, struct.pack("<II", 3, len(got))))
        seq, total, data_crc, offset = struct.unpack_from("<IIII", payload)
        assert (status, seq, total, data_crc, offset) == (0, 3, len(expected), zlib.crc32(expected), len(got))
        assert len(payload) - 16 == min(496, len(expected) - len(got))
        got += payload[16:]
    assert got == expected
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x04, struct.pack("<II", 3, len(expected) + 1)))
    assert (status, payload) == (5, b"")
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x05, struct.pack("<I", 3)))
    assert (status, struct.unpack("<I", payload)) == (0, (3,))
    [(_, _, _, _, payload)] = wire.send(hand_built_request(0x03, struct.pack("<I", 0)))
    assert payload == bytes([0, 1]) + struct.pack("<IIB", 4, DAY + 2, 0)
    [(_, _, status, _, _)] = wire.send(hand_built_request(0x04, struct.pack("<II", 4, 0)))
    assert status == 0
    [(_, _, _, _, payload)] = wire.send(hand_built_request(0x05, struct.pack("<I", 4)))
    assert struct.unpack("<I", payload) == (3,)  # the open day is never acknowledged


def test_fetch_of_a_record_the_store_no_longer_has_is_empty(board):
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x04, struct.pack("<II", 77, 0)))
    assert (status, payload) == (0, struct.pack("<IIII", 77, 0, 0, 0))


@pytest.mark.parametrize("past_next_seq", [0, 3])
def test_ack_of_a_seq_the_store_never_gave_counts_a_rollback_once_and_moves_its_seqs_past_it(tmp_path, past_next_seq):
    """'A seq at or above the device's next seq' is a rollback."""
    board = week_of_walking(tmp_path / "flash")
    host_seq = board.store.next_seq + past_next_seq  # the host holds records this store no longer knows
    for _ in range(2):
        [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x05, struct.pack("<I", host_seq)))
        assert status == 0 and board.store.lost_detail == board.store.lost_summary == 1
    assert board.store.open_seq == host_seq + 1 and board.store.next_seq == host_seq + 2
    assert struct.unpack("<I", payload)[0] == board.store.acked_seq == host_seq


def test_ack_of_a_seq_this_boot_gave_but_never_sent_is_a_rollback_and_the_boot_takes_a_new_id(tmp_path):
    """A revision from before this boot's first record, and a reboot: the boot reuses the id and the seq the
    host holds. The host acks that seq, which this link never sent: a rollback, and the open segment gets a
    new seq and a key under a boot id past host_seq * ROLLBACK_BOOT_STRIDE."""
    board = Board(tmp_path / "flash")
    board.walk(5)  # boot 1, no clock: segment part 0 opened this boot as seq 1
    assert (board.store.open_seq, board.store.open_key, board.store.boot_id) == (1, 1 << 8, 1)
    wire = Wire(board)
    for _ in range(2):  # a sync cut before the fetch acks it again: counted and renumbered once
        [(_, _, status, _, payload)] = wire.send(hand_built_request(0x05, struct.pack("<I", 1)))
        assert status == 0 and board.store.lost_detail == board.store.lost_summary == 1
    new_id = 1 + 1 * store.ROLLBACK_BOOT_STRIDE
    assert (board.store.boot_id, board.store.open_seq, board.store.open_key) == (new_id, 2, new_id << 8)
    [(_, _, _, _, payload)] = wire.send(hand_built_request(0x03, struct.pack("<I", 0)))
    assert payload == bytes([0, 1]) + struct.pack("<IIB", 2, new_id << 8, store.FLAG_SEGMENT)
    data = board.store.read(2)
    assert store.parse_records(data)[0][0][2] == new_id << 8  # the record on flash carries the new key
    board.walk(1)  # the same boot records on under its new id
    assert board.store.open_key == new_id << 8


def test_ack_of_a_seq_this_boot_gave_and_sent_is_no_rollback(tmp_path):
    board = Board(tmp_path / "flash")
    board.walk(5)
    board.set_local(7 * 60)
    board.walk(5)  # the segment (seq 1) closes, the day opens as seq 2
    wire = Wire(board)
    for seq in (1, 2):
        assert wire.send(hand_built_request(0x04, struct.pack("<II", seq, 0)))[0][2] == 0
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x05, struct.pack("<I", 2)))
    assert (status, struct.unpack("<I", payload)) == (0, (1,))
    assert (board.store.lost_detail, board.store.boot_id, board.store.open_seq) == (0, 1, 2)


def test_losses_reports_store_counters_segments_and_link_noise(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    board.store.lost_detail, board.store.quarantined = 3, 1
    [(_, _, status, _, payload)] = Wire(board).send(b"MicroPython v1.28\r\n" + hand_built_request(0x06))
    boot_id, acked, lost_detail, lost_summary, quarantined, failed, segments, noise, frames = struct.unpack(
        "<9I", payload)
    assert (status, boot_id, acked, lost_detail, lost_summary, quarantined, failed) == (0, 2, 0, 3, 0, 1, 0)
    assert segments == 1  # boot 1's part 0, recorded before any sync
    assert (noise, frames) == (len("MicroPython v1.28"), 0)  # CR and LF are not noise


def test_unknown_command_wrong_length_and_other_version_get_their_error_codes(board):
    wire = Wire(board)
    assert wire.send(hand_built_request(0x09))[0][1:] == (0x89, 2, 0x1234, b"")
    assert wire.send(hand_built_request(0x05, b"\x01\x00"))[0][1:] == (0x85, 3, 0x1234, b"")
    assert wire.send(hand_built_request(0x01, b"\x00"))[0][1:] == (0x81, 3, 0x1234, b"")
    [(version, command, status, tag, payload)] = wire.send(hand_built_request(0x01, version=2, tag=9))
    assert (version, command, status, tag, payload) == (1, 0x81, 1, 9, b"\x01")


def test_a_filesystem_failure_is_error_6_and_the_link_keeps_serving(board, monkeypatch):
    def failing_read(seq):
        raise OSError(5, "EIO")

    wire = Wire(board)
    assert wire.send(hand_built_request(0x04, struct.pack("<II", 1, 0)))[0][2] == 0
    monkeypatch.setattr(board.store, "read", failing_read)
    assert wire.send(hand_built_request(0x04, struct.pack("<II", 1, 0)))[0][2:] == (6, 0x1234, b"")
    assert wire.send(hand_built_request(0x01))[0][2] == 0
    monkeypatch.undo()  # the flash answers again: a later chunk is read afresh, not from a lost snapshot
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x04, struct.pack("<II", 1, 10)))
    assert status == 0 and payload[16:] == board.store.read(1)[10:]


def test_noise_crlf_and_resync_at_the_next_start_marker(board):
    wire = Wire(board)
    request = hand_built_request(0x01)
    traceback = b'Traceback (most recent call last):\r\n  File "main.py", line 1\r\n>>> '
    noisy = traceback + request[:20] + request.replace(b"\n", b"\r\n") + b"~00zz\n" + request.upper()
    answers = wire.send(noisy)
    assert len(answers) == 2 and all(a[1:3] == (0x81, 0) for a in answers)
    assert board.link.discarded_frames == 2  # the cut one and the one with 'zz'
    assert board.link.discarded_bytes == len(traceback.replace(b"\r", b"").replace(b"\n", b"")) + 20 + 5


def test_an_oversize_frame_is_dropped_at_the_limit_without_buffering(board):
    wire = Wire(board)
    oversize = hand_built_request(0x03, bytes(link.MAX_REQUEST_PAYLOAD + 1))
    assert wire.send(oversize + hand_built_request(0x01)) [0][1:3] == (0x81, 0)
    assert board.link.discarded_frames == 1
    assert board.link._rx_digits == -1 and len(board.link._rx) == link.REQUEST_FRAME_BYTES


def test_a_bad_crc_a_response_frame_and_a_short_frame_are_not_answered(board):
    request = bytearray(hand_built_request(0x05, struct.pack("<I", 1)))
    request[-3] = ord("0") if request[-3] != ord("0") else ord("1")  # a digit of the CRC
    response = hand_built_request(0x81)  # bit 7 set: an echo of a device's answer
    assert Wire(board).send(bytes(request) + response + b"~0100\n") == []
    assert board.link.discarded_frames == 3 and board.store.acked_seq == 0


def test_serve_takes_a_bounded_number_of_bytes_per_call(board):
    board.port.sink = bytearray().extend
    request = hand_built_request(0x01)
    assert len(request) == 24
    board.port.incoming += request * 3
    assert board.link.serve() == 2 and len(board.port.incoming) == 3 * 24 - link.SERVE_INPUT_BYTES
    board.link.serve()
    board.link.serve()
    assert not board.port.incoming


@pytest.mark.parametrize("length", [63, 64, 65, 200])
def test_info_strings_are_cut_at_64_bytes(tmp_path, length):
    """'A str is a u8 byte count then that many bytes of UTF-8, at most 64 (the device cuts longer ones)'."""
    name = ("xiao-nrf52840-" * 20)[:length]
    board = Board(tmp_path / "flash", Identity(board=name))
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x01))
    at = 14 + 1 + payload[14]  # past the device_id
    assert status == 0 and payload[at] == min(length, 64)
    assert payload[at + 1:at + 1 + payload[at]] == name[:64].encode()
    assert len(board.link._tx) == link.RESPONSE_FRAME_BYTES  # answered in the buffer allocated at start


@pytest.mark.parametrize("battery_mv, sent", [(-2, -1), (-1, -1), (0, 0), (1, 1), (32767, 32767), (32768, -1)])
def test_info_sends_a_battery_voltage_an_i16_holds_else_minus_1(tmp_path, battery_mv, sent):
    """'battery voltage in mV, -1 when the board cannot measure it'; the clock not set this boot: clock_set 0."""
    board = Board(tmp_path / "flash", Identity(battery_mv=battery_mv))
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x01))
    assert status == 0 and struct.unpack_from("<Bh", payload, 9) == (0, sent)


def test_the_sensor_request_has_no_payload_and_is_answered_by_its_table(tmp_path):
    board = Board(tmp_path / "flash", imu_counters=True)
    board.walk(8)  # eight minutes: the ticks moved 60 s each
    board.wearable.samples_read, board.wearable.imu.overflows, board.wearable.imu_faults = 24_960, 2, 1
    wire = Wire(board)
    [(_, command, status, _, payload)] = wire.send(hand_built_request(0x07))
    assert (command, status) == (0x87, 0)
    assert struct.unpack(layout("### Sensor response")[0], payload) == (1, 8 * 60, 24_960, 2, 1)
    assert wire.send(hand_built_request(0x07, b"\x00"))[0][1:] == (0x87, 3, 0x1234, b"")
    assert Wire(Board(tmp_path / "bench")).send(hand_built_request(0x07))[0][1:] == (0x87, 2, 0x1234, b"")


def test_every_frame_answered_counts_once_errors_too(board):
    """serve() returns the frames it answered: an unknown command, a wrong length and another version are answered
    (with an error and no payload but the version's byte)."""
    board.port.sink = bytearray().extend
    board.port.incoming += (hand_built_request(0x09) + hand_built_request(0x01, b"\x00")
                            + hand_built_request(0x01, version=2))
    answered = 0
    while board.port.incoming:
        answered += board.link.serve()
    assert answered == 3


def test_a_start_marker_right_after_another_discards_the_empty_frame(board):
    """The first '~' began a frame the second cuts: one frame and its one byte discarded."""
    assert Wire(board).send(b"~" + hand_built_request(0x01))[0][1:3] == (0x81, 0)
    assert (board.link.discarded_frames, board.link.discarded_bytes) == (1, 1)


def test_serve_counts_the_frames_it_answered_not_line_ends_or_noise(board):
    board.port.sink = bytearray().extend
    board.port.incoming += b"\r\nnoise\r\n" + hand_built_request(0x01).replace(b"\n", b"\r\n")
    assert board.link.serve() == 1


@pytest.mark.parametrize("digit", [b"A", b":", b"g", b"G", b"/", b"`", b"@"])
def test_only_hex_digits_of_either_case_are_hex_digits(board, digit):
    """'receivers accept both cases': 'A' reads as 'a'; the characters beside the digits' ranges in ASCII
    (':' after '9', 'g' after 'f', 'G' after 'F', and '/', '`', '@' before them) damage the frame."""
    request = hand_built_request(0x01, tag=0xA0A0)  # digits 6-9: "a0a0"
    assert request[7:11] == b"a0a0"
    written = bytearray()
    board.port.sink = written.extend
    board.port.incoming += request[:7] + digit + request[8:]
    answered = board.link.serve()
    assert [a[1:4] for a in hand_parsed_responses(bytes(written))] == ([(0x81, 0, 0xA0A0)] if digit == b"A" else [])
    assert answered == (digit == b"A")
    # a damaged frame: its every byte but the line feed is discarded
    assert (board.link.discarded_frames, board.link.discarded_bytes) == ((0, 0) if digit == b"A" else (1, 23))


def test_an_oversize_frame_counts_every_byte_but_its_line_feed_as_discarded(board):
    board.port.sink = bytearray().extend
    oversize = hand_built_request(0x03, bytes(link.MAX_REQUEST_PAYLOAD + 1))
    board.port.incoming += oversize + hand_built_request(0x01)
    answered = 0
    while board.port.incoming:
        answered += board.link.serve()
    assert answered == 1
    assert (board.link.discarded_frames, board.link.discarded_bytes) == (1, len(oversize) - 1)


def sealed(frame):
    """A request line of these frame bytes and their good CRC32."""
    return b"~" + (frame + struct.pack("<I", zlib.crc32(frame))).hex().encode() + b"\n"


@pytest.mark.parametrize("line", [
    hand_built_request(0x01)[:-1] + b"0\n",  # a digit past the frame: an odd count
    b"~0100\n",  # shorter than a header and a CRC
    hand_built_request(0x01)[:-2] + (b"0\n" if hand_built_request(0x01)[-2:-1] != b"0" else b"1\n"),  # bad CRC
    sealed(bytes([1, 0x03, 0, 0x34, 0x12, 4, 1]) + bytes(4)),  # length 0x0104 with 4 payload bytes
    hand_built_request(0x81),  # a response, not a request
], ids=["odd digits", "short", "bad crc", "length high byte", "response bit"])
def test_a_damaged_frame_is_discarded_and_not_counted_as_answered(board, line):
    board.port.sink = bytearray().extend
    board.port.incoming += line
    assert board.link.serve() == 0
    assert board.link.discarded_frames == 1 and board.link.discarded_bytes == len(line) - 1


def test_a_fetch_at_a_later_offset_with_no_snapshot_yet_takes_one(board):
    """'later offsets are served from that snapshot': a link that has served no fetch (a board reset
    mid-fetch) takes the snapshot the host's offset is into."""
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x04, struct.pack("<II", 1, 10)))
    assert status == 0 and payload[16:] == board.store.read(1)[10:]
    assert len(board.link._tx) == link.RESPONSE_FRAME_BYTES  # the chunk went into the buffer allocated at start


def test_after_an_ack_or_a_failed_read_a_fetch_at_a_later_offset_takes_a_fresh_snapshot(board, monkeypatch):
    wire = Wire(board)
    assert wire.send(hand_built_request(0x05, struct.pack("<I", 0)))[0][2] == 0
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x04, struct.pack("<II", 1, 10)))
    assert status == 0 and payload[16:] == board.store.read(1)[10:]

    def failing_read(seq):
        raise OSError(5, "EIO")
    monkeypatch.setattr(board.store, "read", failing_read)
    assert wire.send(hand_built_request(0x04, struct.pack("<II", 1, 0)))[0][2] == 6
    monkeypatch.undo()
    assert wire.send(hand_built_request(0x05, struct.pack("<I", 0)))[0][2] == 0  # an ack right after it
    [(_, _, status, _, payload)] = wire.send(hand_built_request(0x04, struct.pack("<II", 1, 10)))
    assert status == 0 and payload[16:] == board.store.read(1)[10:]


def test_losses_counts_every_unacknowledged_segment(tmp_path):
    board = Board(tmp_path / "flash")
    board.walk(12)  # no clock in boot 1: a segment
    board.reboot()
    board.walk(12)  # nor in boot 2: another
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x06))
    assert status == 0 and struct.unpack_from("<I", payload, 24)[0] == 2


# ---- the host client against the device ----------------------------------------------------

def test_client_runs_every_command_against_the_link(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    client = protocol.Client(Cable(board))
    info = client.info()
    assert info == {"device_id": "e3a1f09c2b7d4410", "board": "xiao-nrf52840-sense", "firmware": "0.1.0",
                    "battery_mv": 3912, "boot_id": 2, "uptime_s": board.clock.uptime_ms() // 1000,
                    "clock_set": True, "target_min": 100, "protocol": 1}
    assert client.set_time(1_772_900_000, 3600, None, None, 120) == (board.clock.uptime_ms() // 1000, 1_772_900_000)
    assert board.link.target_min == 120
    entries = client.list()
    assert entries == [(s, k, f) for s, k, f in board.store.unsynced()]
    for seq, _, _ in entries:
        assert client.fetch(seq) == board.store.read(seq)
    assert client.ack(3) == 3
    assert client.losses() == {**board.store.report(), "segments": 0, "discarded_bytes": 0, "discarded_frames": 0}


class Answering:
    """A device that answers every request with `payload` and status 0, well framed: what faulty firmware sends."""
    timeout = 0.01

    def __init__(self, payload):
        self.payload = payload
        self.out = bytearray()

    def write(self, data):
        version, command, status, tag, _ = protocol.decode_line(data.strip()[1:])
        self.out += protocol.encode_frame(command | 0x80, tag, self.payload)

    def read(self, n):
        data = bytes(self.out[:n])
        del self.out[:n]
        return data


INFO_HEAD = struct.pack("<BIIBhH", 1, 1, 60, 1, 3900, 100)


def strs(*texts):
    return b"".join(bytes([len(t)]) + t for t in texts)


@pytest.mark.parametrize("payload, error", [
    (INFO_HEAD[:13], "info: 13 payload bytes, fewer than 14"),
    (INFO_HEAD, "info: the device_id string runs past the payload"),
    (INFO_HEAD + strs(b"e3a1"), "info: the board string runs past the payload"),
    (INFO_HEAD + strs(b"e3a1", b"xiao") + b"\x02a", "info: the firmware string runs past the payload"),
    (INFO_HEAD + strs(b"e3a1", b"xiao", b"0.1") + b"\x00", "info: extra bytes after the strings, or an empty device_id"),
    (INFO_HEAD + strs(b"", b"xiao", b"0.1"), "info: extra bytes after the strings, or an empty device_id"),
    (INFO_HEAD + strs(b"E3A1", b"xiao", b"0.1"), "info: device_id E3A1 is not 1-64 lowercase hex digits"),
])
def test_a_malformed_info_answer_is_refused_with_what_is_wrong(payload, error):
    """docs/protocol.md 'Info response': a u8 count then that many bytes, three strings filling the payload,
    device_id 1 to 64 lowercase hex digits."""
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(Answering(payload)).info()
    assert str(refused.value) == error


def test_an_info_answer_may_have_an_empty_board_and_bytes_that_are_not_utf8():
    info = protocol.Client(Answering(INFO_HEAD + strs(b"e3a1", b"", b"0.1\xff"))).info()
    assert (info["device_id"], info["board"], info["firmware"]) == ("e3a1", "", "0.1\ufffd")


@pytest.mark.parametrize("command, error", [
    (lambda client: client.set_time(1_772_900_000, 3600), "set time: 3 payload bytes, expected 8"),
    (lambda client: client.ack(1), "ack: 3 payload bytes, expected 4"),
    (lambda client: client.losses(), "losses: 3 payload bytes, expected 36"),
    (lambda client: client.sensor(), "sensor: 3 payload bytes, expected 20"),
    (lambda client: client.fetch(1), "fetch: 3 payload bytes, fewer than 16"),
    (lambda client: client.list(), "list: 3 entries do not fill 3 payload bytes"),
], ids=["set time", "ack", "losses", "sensor", "fetch", "list"])
def test_an_answer_of_the_wrong_size_is_refused_naming_the_command(command, error):
    with pytest.raises(protocol.ProtocolError) as refused:
        command(protocol.Client(Answering(bytes([0, 3, 0]))))
    assert str(refused.value) == error


def test_the_client_reads_the_sensor_counters_or_none_from_firmware_without_them(tmp_path):
    """'A device that predates this command ... answers error 2; the host then carries on without it.'"""
    board = Board(tmp_path / "flash", imu_counters=True)
    board.wearable.samples_read = 3120
    assert protocol.Client(Cable(board)).sensor() == {"boot_id": 1, "uptime_s": 0, "samples": 3120, "overflows": 0,
                                                      "faults": 0}
    assert protocol.Client(Cable(Board(tmp_path / "bench"))).sensor() is None


class Speaking(Answering):
    """A device answering every request in protocol `version`, or with error 1 (version) and `payload`."""

    def __init__(self, version, status=0, payload=b""):
        super().__init__(payload)
        self.version, self.status = version, status

    def write(self, data):
        _, command, _, tag, _ = protocol.decode_line(data.strip()[1:])
        self.out += protocol.encode_frame(command | 0x80, tag, self.payload, self.version, self.status)


@pytest.mark.parametrize("device, speaks", [(Speaking(2), "2"), (Speaking(1, 1, b"\x03"), "3"),
                                            (Speaking(1, 1), "unknown")])
def test_a_device_of_another_protocol_version_is_named_with_what_to_update(device, speaks):
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(device).info()
    assert str(refused.value) == (f"the device speaks protocol version {speaks}, this walkdose speaks 1: update "
                                  "walkdose or the board's firmware")


@pytest.mark.parametrize("status, error", [
    (9, "info: the device answered error 9 (undefined)"),
    (6, "info: the device's filesystem failed 3 times (error 6)"),  # retried as a timeout, then named
])
def test_an_error_status_is_named(status, error):
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(Speaking(1, status)).info()
    assert str(refused.value) == error


class Cutting(Answering):
    """A device whose answer follows `before`: a frame cut by the next start marker, or noise."""

    def __init__(self, before):
        super().__init__(b"\x05\x00\x00\x00")
        self.before = before

    def write(self, data):
        _, command, _, tag, _ = protocol.decode_line(data.strip()[1:])
        self.out += self.before + protocol.encode_frame(command | 0x80, tag, self.payload)


@pytest.mark.parametrize("before", [b"~", b"~0185", b"~01\r\n", b"noise~~"])
def test_the_client_takes_the_frame_that_follows_a_cut_one(before):
    """A '~' starts a frame wherever it is: what came before it since the last '~' is dropped."""
    assert protocol.Client(Cutting(before)).ack(5) == 5


def test_a_silent_device_is_no_answer_after_every_attempt():
    class Silent:
        timeout = 0.01

        def write(self, data):
            pass

        def read(self, n):
            return b""
    with pytest.raises(protocol.NoAnswer) as refused:
        protocol.Client(Silent(), response_timeout_s=0.05, attempts=2).info()
    assert str(refused.value) == "info: no answer after 2 attempts of 0.05 s"


class Fetching(Answering):
    """A device holding `data` under every seq, answering fetches in 496-byte chunks; `head((seq, total,
    data_crc, offset), chunk)` may rewrite a chunk as faulty firmware would. Silent after 20 answers."""

    def __init__(self, data, head=None):
        super().__init__(b"")
        self.data, self.head, self.answers = data, head, 20

    def write(self, data):
        _, command, _, tag, payload = protocol.decode_line(data.strip()[1:])
        if not self.answers:
            return
        self.answers -= 1
        seq, offset = struct.unpack("<II", payload)
        fields, chunk = (seq, len(self.data), zlib.crc32(self.data), offset), self.data[offset:offset + 496]
        if self.head:
            fields, chunk = self.head(fields, chunk)
        self.out += protocol.encode_frame(command | 0x80, tag, struct.pack("<IIII", *fields) + chunk)


def segment_record(seq, token_bytes):
    """A segment's summary record and a minutes record of `token_bytes` (docs/store-format.md): 72 bytes and those."""
    return (store.pack_record(1, 1, 1 << 8, seq, bytes(34))
            + store.pack_record(2, 1, 1 << 8, seq, bytes(2 + token_bytes)))


def fetching(device):
    return protocol.Client(device, response_timeout_s=0.05, attempts=1)


def test_a_fetch_of_a_record_the_store_no_longer_holds_is_empty():
    assert fetching(Fetching(b"")).fetch(1) == b""


def test_a_record_of_the_largest_size_a_store_writes_is_fetched_and_one_byte_more_is_refused():
    """'Limits of a sync': MAX_RECORD_BYTES, 6,072 bytes, checked on a fetch's total before any chunk is asked."""
    assert fetching(Fetching(segment_record(1, 6000))).fetch(1) == segment_record(1, 6000)
    device = Fetching(segment_record(1, 6001))
    with pytest.raises(protocol.LimitExceeded) as refused:
        fetching(device).fetch(1)
    assert str(refused.value) == "fetch: record seq 1 has 6073 bytes, more than the 6072 of the largest record a store writes"
    assert device.answers == 19


def test_a_sync_fetches_up_to_its_byte_limit_and_not_one_record_past(monkeypatch):
    """'Limits of a sync': MAX_SYNC_BYTES over every record fetched, here three records' worth."""
    record = segment_record(1, 100)
    monkeypatch.setattr(protocol, "MAX_SYNC_BYTES", 3 * len(record))
    client = fetching(Fetching(record))
    assert [client.fetch(1) for _ in range(3)] == [record] * 3
    with pytest.raises(protocol.LimitExceeded) as refused:
        client.fetch(1)
    assert str(refused.value) == f"fetch: record seq 1 would take the sync past {3 * len(record)} bytes"


@pytest.mark.parametrize("head, error", [
    (lambda f, chunk: ((f[0] + 1,) + f[1:], chunk), "fetch: asked seq 1 at 0, got seq 2 at 0"),
    (lambda f, chunk: ((f[0], 100, f[2], f[3]), chunk), "fetch: a 496-byte chunk at 0 of a 100-byte record"),
    (lambda f, chunk: ((f[0], f[1], f[2] ^ (f[3] == 0), f[3]), chunk),
     "fetch: record seq 1 changed while it was read, 3 times"),  # data_crc differs between chunks
], ids=["other seq", "chunk past total", "data_crc changed"])
def test_a_fetch_answer_that_breaks_the_text_is_refused(head, error):
    with pytest.raises(protocol.ProtocolError) as refused:
        fetching(Fetching(segment_record(1, 600), head)).fetch(1)
    assert str(refused.value) == error


@pytest.mark.parametrize("data", [segment_record(2, 100), b"\xd5 not a record at all",
                                  store.pack_record(3, 0, 0, 1, bytes(16))],
                         ids=["another seq", "not records", "a state record"])
def test_a_fetched_record_must_be_summary_and_minutes_records_of_its_seq(data):
    """'accepts them only if ... parse as valid store records of that seq' (the CRC of the bytes is good)."""
    with pytest.raises(protocol.ProtocolError) as refused:
        fetching(Fetching(data)).fetch(1)
    assert str(refused.value) == "fetch: record seq 1 holds bytes that are not store records of that seq"


def test_a_request_of_a_command_the_client_has_no_name_for_is_named_by_its_code(board):
    with pytest.raises(protocol.ErrorStatus) as refused:
        protocol.Client(Cable(board)).request(0x09)
    assert str(refused.value) == "command 0x09: the device answered error 2 (unknown command)"


def test_more_on_an_empty_list_page_is_refused():
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(Answering(b"\x01\x00")).list()
    assert str(refused.value) == "list: 'more' set on an empty page"


@pytest.mark.parametrize("payload, error", [
    (b"\x00", "list: 1 payload bytes, fewer than 2"),
    (b"\x00\x02" + struct.pack("<IIB", 1, DAY, 0), "list: 2 entries do not fill 11 payload bytes"),
    (b"\x00\x01" + struct.pack("<IIB", 1, DAY, 0) + b"\x00", "list: 1 entries do not fill 12 payload bytes"),
])
def test_a_malformed_list_answer_is_refused_with_what_is_wrong(payload, error):
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(Answering(payload)).list()
    assert str(refused.value) == error


class Listing(Answering):
    """A device holding records 1..n unacknowledged, listing them as the protocol says, 56 a page."""

    def __init__(self, n):
        super().__init__(b"")
        self.n = n

    def write(self, data):
        version, command, status, tag, payload = protocol.decode_line(data.strip()[1:])
        after_seq = struct.unpack("<I", payload)[0]
        seqs = range(after_seq + 1, min(after_seq + 56, self.n) + 1)
        page = bytes([int(after_seq + 56 < self.n), len(seqs)]) + b"".join(struct.pack("<IIB", s, DAY, 0) for s in seqs)
        self.out += protocol.encode_frame(command | 0x80, tag, page)


def test_a_list_of_10000_records_is_taken_and_one_more_is_past_the_limit():
    """'Limits of a sync': MAX_LIST_ENTRIES, 10,000 records."""
    assert [e[0] for e in protocol.Client(Listing(10_000)).list()] == list(range(1, 10_001))
    with pytest.raises(protocol.LimitExceeded) as refused:
        protocol.Client(Listing(10_001)).list()
    assert str(refused.value) == "list: more than 10000 records, more than any store holds"


def test_a_list_that_does_not_ascend_is_refused_naming_the_seqs():
    page = b"\x00\x02" + struct.pack("<IIB", 3, DAY, 0) + struct.pack("<IIB", 3, DAY, 0)
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.Client(Answering(page)).list()
    assert str(refused.value) == "list: seq 3 is not above 3, the list must ascend"


def test_a_request_past_the_syncs_time_limit_is_refused(monkeypatch):
    monkeypatch.setattr(protocol, "MAX_SYNC_S", -1)
    with pytest.raises(protocol.LimitExceeded) as refused:
        protocol.Client(Answering(b"")).info()
    assert str(refused.value) == "info: the sync has taken over -1 s"


def test_a_frame_without_a_payload_is_the_frame_tables_header_and_crc():
    assert protocol.encode_frame(0x01, 0x1234) == hand_built_request(0x01)


def test_an_empty_list_answer_is_an_empty_list():
    assert protocol.Client(Answering(b"\x00\x00")).list() == []


def test_printable_writes_what_a_terminal_acts_on_as_python_escapes():
    assert protocol.printable("xiao\x1b[2J\n\u202eok") == "xiao\\x1b[2J\\n\\u202eok"


@pytest.mark.parametrize("line, frame", [
    (hand_built_request(0x81)[1:-1], (1, 0x81, 0, 0x1234, b"")),
    (hand_built_request(0x81)[1:9] + b"\r" + hand_built_request(0x81)[9:-1], (1, 0x81, 0, 0x1234, b"")),
    (hand_built_request(0x81)[1:-1].upper(), (1, 0x81, 0, 0x1234, b"")),
    (hand_built_request(0x81)[1:-2], None),  # an odd count of digits
    (hand_built_request(0x81)[1:-3] + b"zz", None),  # not hex
    (b"01810000", None),  # 4 bytes: shorter than a header and a CRC
    (hand_built_request(0x81)[1:-3] + (b"00" if hand_built_request(0x81)[-3:-1] != b"00" else b"11"), None),  # CRC
    (sealed(bytes([1, 0x81, 0, 0x34, 0x12, 1, 0]))[1:-1], None),  # a length of 1 and no payload, sealed
])
def test_the_host_decodes_only_a_whole_frame_with_its_crc(line, frame):
    """A response line's digits: either case, carriage returns ignored; anything else not one frame is None."""
    assert protocol.decode_line(line) == frame


def test_client_pages_through_a_long_list(tmp_path):
    board = Board(tmp_path / "flash")
    for day in range(60):
        board.set_local(12 * 60, DAY + day)
        board.minute(30, 40, 1)
    entries = protocol.Client(Cable(board)).list()
    assert [e[0] for e in entries] == list(range(1, 61)) and entries[-1][1] == DAY + 59
    # 'more': 1 when more records follow; a page holds 56 entries
    pages = [Wire(board).send(hand_built_request(0x03, struct.pack("<I", after)))[0][4][:2] for after in (0, 56)]
    assert pages == [bytes([1, 56]), bytes([0, 4])]


def test_client_skips_banner_echo_and_a_late_answer(tmp_path):
    board = Board(tmp_path / "flash")

    class EchoingCable(Cable):
        """A REPL echoes what it is sent before the firmware answers."""

        def write(self, data):
            self.answers += data.replace(b"\n", b"\r\n")
            return super().write(data)

    cable = EchoingCable(board)
    client = protocol.Client(cable)
    stale = protocol.encode_frame(link.INFO | link.RESPONSE, client._tag, b"\x01" * 14)  # the tag before
    cable.answers += b"MicroPython v1.28.0 on 2026-01-01; XIAO nRF52840 Sense\r\n>>> " + stale + b"~12"
    assert client.info()["device_id"] == "e3a1f09c2b7d4410"


def test_client_resends_after_a_lost_answer_and_gives_up_in_bounded_time(tmp_path):
    board = Board(tmp_path / "flash")

    class DropsFirstAnswer(Cable):
        dropped = 0

        def _from_device(self, data):
            if self.dropped:
                super()._from_device(data)
            self.dropped += 1

    client = protocol.Client(DropsFirstAnswer(board), response_timeout_s=0.1)
    assert client.info()["boot_id"] == 1
    assert board.link.discarded_frames == 0  # the device answered twice; the host lost the first

    class Silent:
        timeout = 0.01
        written = b""

        def write(self, data):
            Silent.written += data

        def read(self, n):
            time.sleep(self.timeout)
            return b""

    client = protocol.Client(Silent(), response_timeout_s=0.1, attempts=3)
    started = time.monotonic()
    with pytest.raises(protocol.NoAnswer):
        client.info()
    assert time.monotonic() - started < 0.5
    assert len(Silent.written.split(b"\n")) == 4  # three attempts, each a new tag
    assert len({line[7:11] for line in Silent.written.split(b"\n")[:-1]}) == 3


def test_fetch_restarts_when_the_record_changed_between_chunks(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    board.walk(240)  # the open day now spans two chunks
    cable = Cable(board)

    class RebootsAfterFirstChunk:
        """The board resets and records a minute between the first and second chunk, once."""
        timeout = cable.timeout
        read = cable.read
        fetches = 0

        def write(self, data):
            if protocol.decode_line(data[1:-1])[1] == link.FETCH:
                self.fetches += 1
                if self.fetches == 2:
                    board.reboot()
                    board.set_local(20 * 60, DAY + 2)
                    board.walk(1)
            return cable.write(data)

        @property
        def in_waiting(self):
            return cable.in_waiting

    port = RebootsAfterFirstChunk()
    data = protocol.Client(port).fetch(4)
    assert data == board.store.read(4)
    assert port.fetches == 2 + -(-len(data) // link.FETCH_CHUNK_BYTES)  # a chunk, a changed one, then all


def test_client_rejects_an_error_status_and_names_it():
    class Answers:
        timeout = 0.01

        def __init__(self, status):
            self.status, self.pending = status, b""

        def write(self, data):
            frame = protocol.decode_line(data[1:-1])
            self.pending = protocol.encode_frame(frame[1] | 0x80, frame[3], b"\x02" if self.status == 1 else b"",
                                                 status=self.status)

        def read(self, n):
            data, self.pending = self.pending[:n], self.pending[n:]
            return data

    with pytest.raises(protocol.ProtocolError, match=r"error 5 \(bad offset\)"):
        protocol.Client(Answers(5)).info()
    with pytest.raises(protocol.ProtocolError, match="speaks protocol version 2"):
        protocol.Client(Answers(1)).info()
    with pytest.raises(protocol.ProtocolError, match="filesystem failed 3 times"):
        protocol.Client(Answers(6)).info()


# ---- StdioPort under the real MicroPython ----------------------------------------------------

STDIO_DEVICE = """
import sys, time, micropython
from firmware.clock import Clock
from firmware.link import Link
from firmware.stdio_port import StdioPort
from firmware.store import DayStore

class Identity:
    device_id = "c0de0001"
    board = "micropython-unix"
    firmware_version = "0.1.0"
    def battery_mv(self):
        return -1

def main():
    clock = Clock(time.ticks_ms)
    store = DayStore(sys.argv[1], clock)
    store.boot()
    store.record_minute(60, 112, 2, 300)
    store.flush()
    link = Link(StdioPort(), store, clock, Identity())
    idle = 0
    locked = sys.argv[2] == "locked"
    while idle < 100:  # up to 1 s without input, then end
        if locked:
            micropython.heap_lock()
        answered = link.serve()
        if locked:
            micropython.heap_unlock()
        idle = 0 if answered else idle + 1
        time.sleep_ms(10)
    sys.stderr.write("%d %d" % (link.discarded_bytes, link.discarded_frames))

main()
"""


class PipePort:
    """pyserial-like end of a subprocess's stdin/stdout pipes."""

    def __init__(self, process):
        self.process = process
        self.timeout = 0.05
        os.set_blocking(process.stdout.fileno(), False)

    def write(self, data):
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read(self, n):
        deadline = time.monotonic() + self.timeout
        while True:
            data = self.process.stdout.read(n)
            if data or time.monotonic() >= deadline:
                return data or b""
            time.sleep(0.002)


def micropython_device(micropython, root, mode):
    env = dict(os.environ, MICROPYPATH=str(pathlib.Path(__file__).parent.parent))
    return subprocess.Popen([micropython, "-c", STDIO_DEVICE, str(root), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_stdio_port_serves_the_host_client_under_micropython(micropython, tmp_path):
    device = micropython_device(micropython, tmp_path / "flash", "pipes")
    client = protocol.Client(PipePort(device))
    info = client.info()
    assert (info["device_id"], info["board"], info["battery_mv"], info["clock_set"]) == (
        "c0de0001", "micropython-unix", -1, False)
    [(seq, key, flags)] = client.list()
    assert (seq, key >> 8, flags) == (1, 1, store.FLAG_SEGMENT)  # boot 1, before any clock
    records, bad = store.parse_records(client.fetch(seq))
    assert not bad and [r[0] for r in records] == [store.KIND_SUMMARY, store.KIND_MINUTES]
    assert struct.unpack_from(store.SUMMARY, records[0][4])[1] == 112
    uptime_s, epoch_s = client.set_time(1_772_900_000, 3600, 1_774_746_000, 7200, 90)
    assert epoch_s == 1_772_900_000 and uptime_s < 10
    assert client.ack(seq) == 0  # the open segment is never acknowledged
    assert client.losses() == {"boot_id": 1, "acked_seq": 0, "lost_detail": 0, "lost_summary": 0, "quarantined": 0,
                               "failed_writes": 0, "segments": 1, "discarded_bytes": 0, "discarded_frames": 0}
    assert client.info()["clock_set"] and client.info()["target_min"] == 90
    device.stdin.write(b"garbage\n")
    device.stdin.close()
    assert device.wait(timeout=10) == 0
    assert device.stderr.read() == b"7 0"


def test_noise_on_stdin_allocates_nothing_under_micropython(micropython, tmp_path):
    """With the heap locked around serve(), noise, an oversize frame and a frame with a bad digit
    are read and discarded: any allocation on that path would raise MemoryError. (A complete frame
    allocates a few small objects: a memoryview for its CRC, ints.)"""
    device = micropython_device(micropython, tmp_path / "flash", "locked")
    noise = b"\x03\x04 >>> import os\r\n" + b"~" + b"ab" * 100 + b"\n~0zz\n" + bytes(range(256))
    out, err = device.communicate(noise, timeout=10)
    assert device.returncode == 0, err
    assert out == b"" and err.startswith(b"%d 3" % (len(noise) - noise.count(b"\n") - noise.count(b"\r")))
