"""Host side of the USB sync protocol (docs/protocol.md): request lines out, response lines in, over any
pyserial-like port (read(n), write(data), a read timeout). Waits and retries are bounded, noise on the
line is skipped until the next frame. Never writes a byte other than '~', hex digits and line feed, and
never changes a port's settings."""
import random
import re
import struct
import time
import zlib

from .firmware import link as wire  # command codes and payload layouts, written once beside the device side
from .firmware import store

RESPONSE_TIMEOUT_S = 2.5  # the firmware may serve the link only between FIFO drains (~1.5 s)
ATTEMPTS = 3
FETCH_RESTARTS = 3
MAX_RESPONSE_LINE = 1 + 2 * wire.RESPONSE_FRAME_BYTES + 1
READ_LIMIT = 4096  # bytes asked of the port at once
STORE_REPORT_KEYS = ("boot_id", "acked_seq", "lost_detail", "lost_summary", "quarantined", "failed_writes")
LINK_KEYS = ("segments", "discarded_bytes", "discarded_frames")
SENSOR_KEYS = ("boot_id", "uptime_s", "samples", "overflows", "faults")
# The limits of one sync (docs/protocol.md 'Limits of a sync'): a device past one is faulty or hostile.
# The largest record a store writes: a segment's summary and 1,500 minutes of 4-byte tokens.
MAX_RECORD_BYTES = (2 * (store.HEADER_BYTES + store.CRC_BYTES) + store.SUMMARY_BYTES + store.ANCHOR_BYTES + 2
                    + 4 * store.MAX_MINUTES)
MAX_LIST_ENTRIES = 10_000  # a 128 KB store holds under 3,000 records (44-byte day summaries)
MAX_SYNC_BYTES = 4 * 1024 * 1024  # 32 full 128 KB stores: room for larger flash, not for an endless stream
MAX_SYNC_S = 1800  # MAX_SYNC_BYTES as hex lines at 115200 baud takes about 12 minutes
DEVICE_ID = re.compile(r"[0-9a-f]{1,64}")  # hex of the chip's id, as the device info documents

COMMAND_NAMES = {wire.INFO: "info", wire.SET_TIME: "set time", wire.LIST: "list", wire.FETCH: "fetch",
                 wire.ACK: "ack", wire.LOSSES: "losses", wire.SENSOR: "sensor"}
STATUS_NAMES = {wire.ERR_VERSION: "version", wire.ERR_UNKNOWN_COMMAND: "unknown command",
                wire.ERR_BAD_LENGTH: "bad length", wire.ERR_BAD_VALUE: "bad value",
                wire.ERR_BAD_OFFSET: "bad offset", wire.ERR_STORE: "store error"}
_HEX_LINE = re.compile(rb"[0-9a-fA-F]*")


def printable(text):
    """text with every character a terminal could act on (escapes, line breaks, bidi controls) written
    as a Python escape: safe to print and to store."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class ProtocolError(Exception):
    """The device answered, but not as docs/protocol.md says it must."""


class LimitExceeded(ProtocolError):
    """The device's answers went past one of the limits of a sync."""


class NoAnswer(ProtocolError):
    """No valid response to a request after every attempt."""


class ErrorStatus(ProtocolError):
    """The device answered a request with an error code (`status`, docs/protocol.md 'Error codes')."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def encode_frame(command, tag, payload=b"", version=wire.PROTOCOL_VERSION, status=0):
    """One line: '~', hex of header + payload + CRC32, line feed."""
    frame = struct.pack(wire.HEADER, version, command, status, tag, len(payload)) + payload
    frame += struct.pack("<I", zlib.crc32(frame))
    return b"~" + frame.hex().encode() + b"\n"


def decode_line(line):
    """(version, command, status, tag, payload) of a line's hex digits (without '~' and line feed), or
    None when it is not one well-formed frame with a good CRC."""
    line = line.replace(b"\r", b"")
    if len(line) % 2 or not _HEX_LINE.fullmatch(line) or len(line) > MAX_RESPONSE_LINE - 2:
        return None
    frame = bytes.fromhex(line.decode())
    if len(frame) < wire.HEADER_BYTES + wire.CRC_BYTES:
        return None
    version, command, status, tag, length = struct.unpack_from(wire.HEADER, frame)
    end = wire.HEADER_BYTES + length
    if end + wire.CRC_BYTES != len(frame) or struct.unpack_from("<I", frame, end)[0] != zlib.crc32(frame[:end]):
        return None
    return version, command, status, tag, frame[wire.HEADER_BYTES:end]


class Client:
    """Requests over `port`. Each read waits at most port.timeout; a response is awaited for
    response_timeout_s, a request sent `attempts` times with a fresh tag before NoAnswer."""

    def __init__(self, port, response_timeout_s=RESPONSE_TIMEOUT_S, attempts=ATTEMPTS):
        self.port = port
        self.response_timeout_s = response_timeout_s
        self.attempts = attempts
        self._tag = random.randrange(0x10000)  # a late answer from an earlier session must not match
        self._buffer = bytearray()
        self._deadline = time.monotonic() + MAX_SYNC_S
        self._fetched_bytes = 0

    # ---- commands ----------------------------------------------------------------------------

    def info(self):
        payload = self.request(wire.INFO)
        if len(payload) < wire.INFO_HEAD_BYTES:
            raise ProtocolError(f"info: {len(payload)} payload bytes, fewer than {wire.INFO_HEAD_BYTES}")
        protocol, boot_id, uptime_s, clock_set, battery_mv, target_min = struct.unpack_from(wire.INFO_HEAD, payload)
        at = wire.INFO_HEAD_BYTES
        texts = []
        for field in ("device_id", "board", "firmware"):
            if at >= len(payload) or at + 1 + payload[at] > len(payload):
                raise ProtocolError(f"info: the {field} string runs past the payload")
            texts.append(payload[at + 1:at + 1 + payload[at]].decode("utf-8", "replace"))
            at += 1 + payload[at]
        if at != len(payload) or not texts[0]:
            raise ProtocolError("info: extra bytes after the strings, or an empty device_id")
        if not DEVICE_ID.fullmatch(texts[0]):
            raise ProtocolError(f"info: device_id {printable(texts[0])} is not 1-64 lowercase hex digits")
        texts[1:] = [printable(text) for text in texts[1:]]
        return {"device_id": texts[0], "board": texts[1], "firmware": texts[2], "battery_mv": battery_mv,
                "boot_id": boot_id, "uptime_s": uptime_s, "clock_set": bool(clock_set),
                "target_min": target_min, "protocol": protocol}

    def set_time(self, epoch_s, utc_offset_s, next_change_epoch_s=None, next_offset_s=None,
                 target_min=wire.DEFAULT_TARGET_MIN):
        """Set the device clock; next_change_epoch_s None when no offset change is known.
        Returns the device's anchor (uptime_s, epoch_s)."""
        change = wire.NO_CHANGE_WIRE if next_change_epoch_s is None else next_change_epoch_s
        payload = struct.pack(wire.SET_TIME_REQUEST, epoch_s, utc_offset_s, change,
                              utc_offset_s if next_offset_s is None else next_offset_s, target_min)
        return self._unpack(wire.SET_TIME_RESPONSE, self.request(wire.SET_TIME, payload), "set time")

    def list(self):
        """[(seq, key, flags)] of every record the device holds unacknowledged, oldest first."""
        entries = []
        after_seq = 0
        while True:
            payload = self.request(wire.LIST, struct.pack(wire.LIST_REQUEST, after_seq))
            if len(payload) < 2:
                raise ProtocolError(f"list: {len(payload)} payload bytes, fewer than 2")
            more, count = struct.unpack_from(wire.LIST_HEAD, payload)
            if len(payload) != 2 + count * wire.LIST_ENTRY_BYTES or count > wire.LIST_MAX_ENTRIES:
                raise ProtocolError(f"list: {count} entries do not fill {len(payload)} payload bytes")
            page = [struct.unpack_from(wire.LIST_ENTRY, payload, 2 + i * wire.LIST_ENTRY_BYTES)
                    for i in range(count)]
            for seq, key, flags in page:
                if seq <= after_seq:
                    raise ProtocolError(f"list: seq {seq} is not above {after_seq}, the list must ascend")
                after_seq = seq
                entries.append((seq, key, flags))
            if len(entries) > MAX_LIST_ENTRIES:
                raise LimitExceeded(f"list: more than {MAX_LIST_ENTRIES} records, more than any store holds")
            if not more:
                return entries
            if not page:
                raise ProtocolError("list: 'more' set on an empty page")

    def fetch(self, seq):
        """The record's summary and minutes records as the store holds them (b"" if it no longer
        does), checked: one snapshot, its CRC32, and valid store records of this seq."""
        for _ in range(FETCH_RESTARTS):
            data = self._fetch_once(seq)
            if data is not None:
                return data
        raise ProtocolError(f"fetch: record seq {seq} changed while it was read, {FETCH_RESTARTS} times")

    def ack(self, seq):
        """Tell the device every record up to seq is stored; returns its acked_seq."""
        return self._unpack(wire.ACK_RESPONSE, self.request(wire.ACK, struct.pack(wire.ACK_REQUEST, seq)), "ack")[0]

    def losses(self):
        """The store's cumulative counters (STORE_REPORT_KEYS) and the link's (LINK_KEYS)."""
        values = self._unpack(wire.LOSSES_RESPONSE, self.request(wire.LOSSES), "losses")
        return dict(zip(STORE_REPORT_KEYS + LINK_KEYS, values))

    def sensor(self):
        """The IMU's counters of the device's current boot (SENSOR_KEYS), or None when the device
        answers error 2: its firmware predates the command or has no IMU counters to give."""
        try:
            payload = self.request(wire.SENSOR)
        except ErrorStatus as exc:
            if exc.status == wire.ERR_UNKNOWN_COMMAND:
                return None
            raise
        return dict(zip(SENSOR_KEYS, self._unpack(wire.SENSOR_RESPONSE, payload, "sensor")))

    # ---- framing ------------------------------------------------------------------------------

    def request(self, command, payload=b""):
        """The response payload of a successful answer; ProtocolError for an error status,
        NoAnswer when every attempt timed out. A store error is retried like a timeout."""
        name = COMMAND_NAMES.get(command, "command 0x%02x" % command)
        if time.monotonic() > self._deadline:
            raise LimitExceeded(f"{name}: the sync has taken over {MAX_SYNC_S} s")
        status = None
        for _ in range(self.attempts):
            self._tag = (self._tag + 1) & 0xFFFF
            self.port.write(encode_frame(command, self._tag, payload))
            frame = self._await(command | wire.RESPONSE, self._tag)
            if frame is None:
                continue
            version, _, status, _, answer = frame
            if version != wire.PROTOCOL_VERSION:
                raise ProtocolError(f"the device speaks protocol version {version}, this walkdose speaks "
                                    f"{wire.PROTOCOL_VERSION}: update walkdose or the board's firmware")
            if status == wire.OK:
                return answer
            if status == wire.ERR_VERSION:
                speaks = answer[0] if answer else "unknown"
                raise ProtocolError(f"the device speaks protocol version {speaks}, this walkdose speaks "
                                    f"{wire.PROTOCOL_VERSION}: update walkdose or the board's firmware")
            if status != wire.ERR_STORE:
                raise ErrorStatus(f"{name}: the device answered error {status} "
                                  f"({STATUS_NAMES.get(status, 'undefined')})", status)
        if status == wire.ERR_STORE:
            raise ProtocolError(f"{name}: the device's filesystem failed {self.attempts} times (error 6)")
        raise NoAnswer(f"{name}: no answer after {self.attempts} attempts of {self.response_timeout_s:g} s")

    def _await(self, command, tag):
        """The frame answering (command, tag), or None at the deadline; other frames are dropped."""
        deadline = time.monotonic() + self.response_timeout_s
        while True:
            line = self._next_line()
            while line is not None:
                frame = decode_line(line)
                if frame is not None and frame[1] == command and frame[3] == tag:
                    return frame
                line = self._next_line()
            if time.monotonic() >= deadline:
                return None
            waiting = getattr(self.port, "in_waiting", 0)
            self._buffer += self.port.read(min(max(1, waiting), READ_LIMIT))

    def _next_line(self):
        """The digits of the next complete line in the buffer, or None; noise before a '~', a frame
        cut by another '~' and an overlong frame are dropped."""
        buffer = self._buffer
        while True:
            start = buffer.find(b"~")
            if start < 0:
                buffer.clear()
                return None
            del buffer[:start]
            end = buffer.find(b"\n")
            restart = buffer.find(b"~", 1)
            if restart >= 0 and (end < 0 or restart < end):
                del buffer[:restart]
                continue
            if end < 0:
                if len(buffer) > MAX_RESPONSE_LINE:
                    del buffer[:1]  # overlong: drop it, wait for the next '~'
                    continue
                return None
            line = bytes(buffer[1:end])
            del buffer[:end + 1]
            return line

    def _unpack(self, layout, payload, name):
        if len(payload) != struct.calcsize(layout):
            raise ProtocolError(f"{name}: {len(payload)} payload bytes, expected {struct.calcsize(layout)}")
        return struct.unpack(layout, payload)

    def _fetch_once(self, seq):
        """The record, or None when its snapshot changed between chunks."""
        parts = []
        offset = 0
        snapshot = None
        while True:
            payload = self.request(wire.FETCH, struct.pack(wire.FETCH_REQUEST, seq, offset))
            if len(payload) < wire.FETCH_HEAD_BYTES:
                raise ProtocolError(f"fetch: {len(payload)} payload bytes, fewer than {wire.FETCH_HEAD_BYTES}")
            got_seq, total, data_crc, got_offset = struct.unpack_from(wire.FETCH_HEAD, payload)
            chunk = payload[wire.FETCH_HEAD_BYTES:]
            if (got_seq, got_offset) != (seq, offset):
                raise ProtocolError(f"fetch: asked seq {seq} at {offset}, got seq {got_seq} at {got_offset}")
            if snapshot is None:
                if total > MAX_RECORD_BYTES:
                    raise LimitExceeded(f"fetch: record seq {seq} has {total} bytes, more than the "
                                        f"{MAX_RECORD_BYTES} of the largest record a store writes")
                if self._fetched_bytes + total > MAX_SYNC_BYTES:
                    raise LimitExceeded(f"fetch: record seq {seq} would take the sync past {MAX_SYNC_BYTES} bytes")
                snapshot = (total, data_crc)
            elif snapshot != (total, data_crc):
                return None
            if offset + len(chunk) > total or (not chunk and offset < total):
                raise ProtocolError(f"fetch: a {len(chunk)}-byte chunk at {offset} of a {total}-byte record")
            parts.append(chunk)
            offset += len(chunk)
            if offset == total:
                break
        data = b"".join(parts)
        self._fetched_bytes += len(data)
        if zlib.crc32(data) != data_crc:
            return None
        records, bad_bytes = store.parse_records(data)
        if bad_bytes or any(r[3] != seq or r[0] not in (store.KIND_SUMMARY, store.KIND_MINUTES) for r in records):
            raise ProtocolError(f"fetch: record seq {seq} holds bytes that are not store records of that seq")
        return data
