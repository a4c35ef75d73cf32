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
from link_harness import DAY, Board, Cable, week_of_walking
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
    [(_, _, _, _, payload)] = wire.send(hand_built_request(0x05, struct.pack("<I", 4)))
    assert struct.unpack("<I", payload) == (3,)  # the open day is never acknowledged


def test_fetch_of_a_record_the_store_no_longer_has_is_empty(board):
    [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x04, struct.pack("<II", 77, 0)))
    assert (status, payload) == (0, struct.pack("<IIII", 77, 0, 0, 0))


def test_ack_of_a_seq_the_store_never_gave_counts_a_rollback_once_and_moves_its_seqs_past_it(tmp_path):
    board = week_of_walking(tmp_path / "flash")
    host_seq = board.store.next_seq + 3  # the host holds records this store no longer knows
    for _ in range(2):
        [(_, _, status, _, payload)] = Wire(board).send(hand_built_request(0x05, struct.pack("<I", host_seq)))
        assert status == 0 and board.store.lost_detail == board.store.lost_summary == 1
    assert board.store.open_seq == host_seq + 1 and board.store.next_seq == host_seq + 2
    assert struct.unpack("<I", payload)[0] == board.store.acked_seq == host_seq


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
    assert wire.send(hand_built_request(0x09))[0][1:3] == (0x89, 2)
    assert wire.send(hand_built_request(0x05, b"\x01\x00"))[0][1:3] == (0x85, 3)
    assert wire.send(hand_built_request(0x01, b"\x00"))[0][1:3] == (0x81, 3)
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


def test_client_pages_through_a_long_list(tmp_path):
    board = Board(tmp_path / "flash")
    for day in range(60):
        board.set_local(12 * 60, DAY + day)
        board.minute(30, 40, 1)
    entries = protocol.Client(Cable(board)).list()
    assert [e[0] for e in entries] == list(range(1, 61)) and entries[-1][1] == DAY + 59


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
