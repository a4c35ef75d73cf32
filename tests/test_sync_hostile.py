"""`walkdose sync` against a device that lies: endless lists, huge records, escape sequences in its
strings, a port another program holds. Each ends in one error line and nothing of the bad part stored."""
import os
import struct

import pytest

from firmware import link as wire
from link_harness import SYNC_EPOCH_S, Cable, Identity, week_of_walking
from walkdose import db, protocol, sync
from walkdose.errors import UserError


class Lying(Cable):
    """The real board, except that `lie(command, payload)` answers the commands it returns a payload for."""

    def __init__(self, board, lie):
        super().__init__(board)
        self.lie = lie
        self.requests = {}

    def write(self, data):
        _, command, _, tag, payload = protocol.decode_line(data[1:-1])
        self.requests[command] = self.requests.get(command, 0) + 1
        answer = self.lie(command, payload)
        if answer is None:
            return super().write(data)
        self._from_device(protocol.encode_frame(command | wire.RESPONSE, tag, answer))
        return len(data)


def sync_lying(tmp_path, lie, identity=None, messages=None):
    board = week_of_walking(tmp_path / "flash", identity)
    cable = Lying(board, lie)
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    try:
        with pytest.raises(UserError) as error:
            sync.sync_device(protocol.Client(cable, response_timeout_s=0.2), conn, "cable",
                             now=lambda: SYNC_EPOCH_S, say=(messages or []).append)
        assert "\n" not in str(error.value)
        return str(error.value), cable, conn.execute("SELECT seq FROM records").fetchall()
    finally:
        conn.close()


def endless_list(command, payload):
    if command == wire.LIST:
        after_seq, = struct.unpack(wire.LIST_REQUEST, payload)
        entries = b"".join(struct.pack(wire.LIST_ENTRY, after_seq + i, 1, 0)
                           for i in range(1, wire.LIST_MAX_ENTRIES + 1))
        return struct.pack(wire.LIST_HEAD, 1, wire.LIST_MAX_ENTRIES) + entries
    return None


def test_an_endless_list_stops_at_the_limit_and_stores_nothing(tmp_path):
    message, cable, stored = sync_lying(tmp_path, endless_list)
    assert f"more than {protocol.MAX_LIST_ENTRIES} records" in message
    assert cable.requests[wire.LIST] == protocol.MAX_LIST_ENTRIES // wire.LIST_MAX_ENTRIES + 1
    assert stored == [] and wire.FETCH not in cable.requests


def test_a_record_larger_than_any_store_writes_is_not_fetched(tmp_path):
    def huge(command, payload):
        if command == wire.FETCH:
            seq, offset = struct.unpack(wire.FETCH_REQUEST, payload)
            return struct.pack(wire.FETCH_HEAD, seq, 0xFFFFFFF0, 0, offset) + bytes(496)
        return None
    message, cable, stored = sync_lying(tmp_path, huge)
    assert f"4294967280 bytes, more than the {protocol.MAX_RECORD_BYTES}" in message
    assert cable.requests[wire.FETCH] == 1 and stored == []


def test_a_sync_past_its_byte_budget_keeps_what_came_before_and_not_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_SYNC_BYTES", 500)  # the first two records of the week fit, not the third
    message, cable, stored = sync_lying(tmp_path, lambda command, payload: None)
    assert "would take the sync past 500 bytes" in message
    assert stored == [(1,), (2,)]


def test_a_sync_past_its_time_budget_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_SYNC_S", -1)
    message, cable, stored = sync_lying(tmp_path, lambda command, payload: None)
    assert "the sync has taken over -1 s" in message and stored == []


def test_a_device_id_that_is_not_hex_is_refused_and_never_printed_raw(tmp_path):
    messages = []
    message, _, stored = sync_lying(tmp_path, lambda command, payload: None,
                                    Identity(device_id="\x1b[2J\nevil"), messages)
    assert "device_id \\x1b[2J\\nevil is not 1-64 lowercase hex digits" in message
    assert "\x1b" not in message and messages == [] and stored == []


def test_device_strings_are_escaped_before_printed_or_stored(tmp_path):
    board = week_of_walking(tmp_path / "flash", Identity(board="xiao\x1b]0;pwned\x07", firmware_version="1\u202e0"))
    conn = db.open_db(str(tmp_path / "walkdose.sqlite"))
    messages = []
    sync.sync_device(protocol.Client(Cable(board)), conn, "cable", now=lambda: SYNC_EPOCH_S, say=messages.append)
    assert conn.execute("SELECT board, firmware FROM devices").fetchall() == [("xiao\\x1b]0;pwned\\x07", "1\\u202e0")]
    assert all(c.isprintable() for c in messages[0])
    conn.close()


def test_a_port_another_program_holds_is_busy(tmp_path):
    master, slave = os.openpty()
    path = os.ttyname(slave)
    first = sync.open_port(path)
    try:
        with pytest.raises(UserError, match=f"^port busy: another program .* has {path} open"):
            sync.open_port(path)
    finally:
        first.close()
        os.close(master)
        os.close(slave)
