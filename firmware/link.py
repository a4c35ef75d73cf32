"""Device side of the USB sync protocol (docs/protocol.md): parses host lines from a non-blocking byte
port into one preallocated frame buffer and answers them from the day store and clock. Never blocks,
never raises on bad input (it is discarded and counted), never emits a byte outside `~`, hex digits and
line feed (so never 0x03), and knows nothing of steps: the IMU's counters come from an object the board
entry hands it (the wearable), never from an import of the main loop."""
import struct
from binascii import crc32

from .clock import NO_CHANGE, settable
from .compat import const
from .store import FLAG_SEGMENT

PROTOCOL_VERSION = const(1)
START = const(0x7E)  # '~'
LINE_FEED = const(0x0A)
CARRIAGE_RETURN = const(0x0D)
RESPONSE = const(0x80)  # bit 7 of the command byte marks a response

HEADER = "<BBBHH"  # version, command, status, tag, length
HEADER_BYTES = const(7)
CRC_BYTES = const(4)
MAX_REQUEST_PAYLOAD = const(32)
MAX_PAYLOAD = const(512)
REQUEST_FRAME_BYTES = const(43)  # HEADER_BYTES + MAX_REQUEST_PAYLOAD + CRC_BYTES
RESPONSE_FRAME_BYTES = const(523)  # HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES
SERVE_INPUT_BYTES = const(64)  # bytes taken from the port per serve() call: bounded work between samples

INFO = const(0x01)
SET_TIME = const(0x02)
LIST = const(0x03)
FETCH = const(0x04)
ACK = const(0x05)
LOSSES = const(0x06)
SENSOR = const(0x07)

OK = const(0)
ERR_VERSION = const(1)
ERR_UNKNOWN_COMMAND = const(2)
ERR_BAD_LENGTH = const(3)
ERR_BAD_VALUE = const(4)
ERR_BAD_OFFSET = const(5)
ERR_STORE = const(6)

INFO_HEAD = "<BIIBhH"  # protocol, boot_id, uptime_s, clock_set, battery_mv, target_min; then 3 str
INFO_HEAD_BYTES = const(14)
MAX_STR_BYTES = const(64)
SET_TIME_REQUEST = "<IiIiH"  # epoch_s, utc_offset_s, next_change_epoch_s, next_offset_s, target_min
SET_TIME_REQUEST_BYTES = const(18)
SET_TIME_RESPONSE = "<II"  # uptime_s, epoch_s of the anchor
LIST_REQUEST = "<I"  # after_seq
LIST_HEAD = "<BB"  # more, count
LIST_ENTRY = "<IIB"  # seq, key, flags
LIST_ENTRY_BYTES = const(9)
LIST_MAX_ENTRIES = const(56)  # (MAX_PAYLOAD - 2) // LIST_ENTRY_BYTES
FETCH_REQUEST = "<II"  # seq, offset
FETCH_HEAD = "<IIII"  # seq, total, data_crc, offset; then the chunk
FETCH_HEAD_BYTES = const(16)
FETCH_CHUNK_BYTES = const(496)  # MAX_PAYLOAD - FETCH_HEAD_BYTES
ACK_REQUEST = "<I"  # seq
ACK_RESPONSE = "<I"  # acked_seq
LOSSES_RESPONSE = "<IIIIIIIII"  # see docs/protocol.md, 'Losses response'
SENSOR_RESPONSE = "<IIIII"  # boot_id, uptime_s, samples, overflows, faults
SENSOR_RESPONSE_BYTES = const(20)

MAX_OFFSET_S = const(64800)  # +/-18 h, the widest UTC offset ISO 8601 allows
MAX_TARGET_MIN = const(1440)
DEFAULT_TARGET_MIN = const(100)  # HUNT: 101-124 min/day had RR 0.77 against < 78 min/day
NO_CHANGE_WIRE = const(0xFFFFFFFF)  # next_change_epoch_s on the wire when no change is known
_U32 = const(0xFFFFFFFF)

_HEX = b"0123456789abcdef"
_REQUEST_BYTES = {INFO: 0, SET_TIME: SET_TIME_REQUEST_BYTES, LIST: 4, FETCH: 8, ACK: 4, LOSSES: 0, SENSOR: 0}


def _u32(value):
    return value if 0 <= value <= _U32 else _U32


class Link:
    """Serves the sync protocol on `port` (read_into(buf) -> n without blocking; write(data)).

    Call serve() often from the main loop; it takes at most SERVE_INPUT_BYTES from the port and
    answers the frames they complete. Buffers are allocated here once: a request frame, the response
    frame and its hex line; answering a frame allocates only what the store and small ints need.

    `sensor` holds the IMU's counters since boot (samples_read, imu_faults, imu.overflows: the
    wearable); without it the sensor command is answered as by a device that predates it (error 2).
    """

    def __init__(self, port, store, clock, identity, sensor=None):
        self.port = port
        self.store = store
        self.clock = clock
        self.identity = identity
        self.sensor = sensor
        self.target_min = DEFAULT_TARGET_MIN
        self.discarded_bytes = 0  # noise and bytes of discarded frames
        self.discarded_frames = 0
        self._input = bytearray(SERVE_INPUT_BYTES)
        self._rx = bytearray(REQUEST_FRAME_BYTES)
        self._rx_digits = -1  # hex digits of the frame being received; -1: waiting for '~'
        self._tx = bytearray(RESPONSE_FRAME_BYTES)
        self._line = bytearray(1 + 2 * RESPONSE_FRAME_BYTES + 1)
        self._line_view = memoryview(self._line)
        self._strings = [s.encode()[:MAX_STR_BYTES] for s in
                         (identity.device_id, identity.board, identity.firmware_version)]
        self._fetch_seq = -1  # the snapshot later fetch offsets are served from
        self._fetch_data = b""
        self._fetch_crc = 0
        self._sent_seq = 0  # the highest seq fetched this boot: the host can hold no later seq given this boot

    def serve(self):
        """Take what the port has (up to SERVE_INPUT_BYTES); return the number of frames answered."""
        n = self.port.read_into(self._input)
        answered = 0
        for i in range(n):
            if self._take(self._input[i]):
                answered += 1
        return answered

    # ---- receiving ------------------------------------------------------------------------

    def _take(self, byte):
        """One received byte; True when it completed a frame that was answered."""
        digits = self._rx_digits
        if byte == START:
            if digits >= 0:
                self._discard(digits)
            self._rx_digits = 0
            return False
        if digits < 0:
            if byte != LINE_FEED and byte != CARRIAGE_RETURN:
                self.discarded_bytes += 1
            return False
        if byte == CARRIAGE_RETURN:
            return False
        if byte == LINE_FEED:
            self._rx_digits = -1
            return self._finish(digits)
        if 0x30 <= byte <= 0x39:
            value = byte - 0x30
        elif 0x61 <= byte <= 0x66:
            value = byte - 0x57
        elif 0x41 <= byte <= 0x46:
            value = byte - 0x37
        else:
            self._discard(digits + 1)  # not a hex digit: the frame is damaged
            return False
        if digits >= 2 * REQUEST_FRAME_BYTES:
            self._discard(digits + 1)  # oversize: drop it now, wait for the next '~'
            return False
        if digits & 1:
            self._rx[digits >> 1] |= value
        else:
            self._rx[digits >> 1] = value << 4
        self._rx_digits = digits + 1
        return False

    def _discard(self, digits):
        self.discarded_bytes += 1 + digits  # the '~' and what followed it
        self.discarded_frames += 1
        self._rx_digits = -1

    def _finish(self, digits):
        rx = self._rx
        size = digits >> 1
        if digits & 1 or size < HEADER_BYTES + CRC_BYTES:
            self._discard(digits)
            return False
        length = rx[5] | rx[6] << 8
        end = HEADER_BYTES + length
        if end + CRC_BYTES != size or rx[1] & RESPONSE:
            self._discard(digits)
            return False
        received_crc = rx[end] | rx[end + 1] << 8 | rx[end + 2] << 16 | rx[end + 3] << 24
        if crc32(memoryview(rx)[:end]) & _U32 != received_crc:
            self._discard(digits)
            return False
        command = rx[1]
        tag = rx[3] | rx[4] << 8
        if rx[0] != PROTOCOL_VERSION:
            self._tx[HEADER_BYTES] = PROTOCOL_VERSION
            self._send(command, ERR_VERSION, tag, 1)
            return True
        expected = _REQUEST_BYTES.get(command, -1)
        if expected < 0 or (command == SENSOR and self.sensor is None):
            self._send(command, ERR_UNKNOWN_COMMAND, tag, 0)
        elif length != expected:
            self._send(command, ERR_BAD_LENGTH, tag, 0)
        else:
            try:
                status, payload_bytes = self._answer(command)
            except OSError:
                status, payload_bytes = ERR_STORE, 0
            self._send(command, status, tag, payload_bytes if status == OK else 0)
        return True

    # ---- answering --------------------------------------------------------------------------

    def _answer(self, command):
        """(status, payload bytes written at self._tx[HEADER_BYTES:]) for a well-formed request."""
        if command == INFO:
            return OK, self._info()
        if command == SET_TIME:
            return self._set_time()
        if command == LIST:
            return OK, self._list(struct.unpack_from(LIST_REQUEST, self._rx, HEADER_BYTES)[0])
        if command == FETCH:
            seq, offset = struct.unpack_from(FETCH_REQUEST, self._rx, HEADER_BYTES)
            return self._fetch(seq, offset)
        if command == ACK:
            return self._ack(struct.unpack_from(ACK_REQUEST, self._rx, HEADER_BYTES)[0])
        if command == SENSOR:
            return OK, self._sensor()
        return OK, self._losses()

    def _info(self):
        tx = self._tx
        battery_mv = self.identity.battery_mv()
        if not -1 <= battery_mv <= 0x7FFF:
            battery_mv = -1
        struct.pack_into(INFO_HEAD, tx, HEADER_BYTES, PROTOCOL_VERSION, _u32(self.store.boot_id),
                         _u32(self.clock.uptime_ms() // 1000), 1 if self.clock.is_set() else 0,
                         battery_mv, self.target_min)
        at = HEADER_BYTES + INFO_HEAD_BYTES
        for text in self._strings:
            tx[at] = len(text)
            tx[at + 1:at + 1 + len(text)] = text
            at += 1 + len(text)
        return at - HEADER_BYTES

    def _set_time(self):
        epoch_s, offset_s, change_s, next_offset_s, target_min = struct.unpack_from(
            SET_TIME_REQUEST, self._rx, HEADER_BYTES)
        if (not settable(epoch_s) or not -MAX_OFFSET_S <= offset_s <= MAX_OFFSET_S or not -MAX_OFFSET_S <= next_offset_s <= MAX_OFFSET_S
                or not 1 <= target_min <= MAX_TARGET_MIN):
            return ERR_BAD_VALUE, 0
        self.clock.set_time(epoch_s, offset_s, NO_CHANGE if change_s == NO_CHANGE_WIRE else change_s,
                            next_offset_s)
        self.target_min = target_min
        uptime_s, set_epoch_s = self.clock.anchor()
        struct.pack_into(SET_TIME_RESPONSE, self._tx, HEADER_BYTES, _u32(uptime_s), _u32(set_epoch_s))
        return OK, 8

    def _list(self, after_seq):
        entries = [e for e in self.store.unsynced() if e[0] > after_seq]
        count = min(len(entries), LIST_MAX_ENTRIES)
        struct.pack_into(LIST_HEAD, self._tx, HEADER_BYTES, 1 if len(entries) > count else 0, count)
        at = HEADER_BYTES + 2
        for i in range(count):
            seq, key, flags = entries[i]
            struct.pack_into(LIST_ENTRY, self._tx, at, _u32(seq), _u32(key), flags & 0xFF)
            at += LIST_ENTRY_BYTES
        return at - HEADER_BYTES

    def _fetch(self, seq, offset):
        if offset == 0 or seq != self._fetch_seq:
            self._fetch_seq = -1  # no snapshot until the read succeeds
            self._fetch_data = b""  # and let the old one go before reading the new one
            self._fetch_data = self.store.read(seq)
            self._fetch_seq = seq
            self._fetch_crc = crc32(self._fetch_data) & _U32
            if seq > self._sent_seq:
                self._sent_seq = seq
        data = self._fetch_data
        if offset > len(data):
            return ERR_BAD_OFFSET, 0
        chunk = min(len(data) - offset, FETCH_CHUNK_BYTES)
        struct.pack_into(FETCH_HEAD, self._tx, HEADER_BYTES, seq, len(data), self._fetch_crc, offset)
        at = HEADER_BYTES + FETCH_HEAD_BYTES
        self._tx[at:at + chunk] = memoryview(data)[offset:offset + chunk]
        return OK, FETCH_HEAD_BYTES + chunk

    def _ack(self, seq):
        store = self.store
        if seq >= store.next_seq or (seq >= store.boot_next_seq and seq > self._sent_seq and seq > store.acked_seq):
            # The host holds a seq this store never gave, or one this boot gave but never sent: the flash
            # mounted an older revision, and this boot reused the seqs (and the boot id) given after it.
            store.rolled_back(seq)
        store.ack(seq)
        if seq >= self._fetch_seq:
            self._fetch_seq = -1
            self._fetch_data = b""
        struct.pack_into(ACK_RESPONSE, self._tx, HEADER_BYTES, _u32(self.store.acked_seq))
        return OK, 4

    def _losses(self):
        report = self.store.report()
        segments = 0
        for seq, key, flags in self.store.unsynced():
            if flags & FLAG_SEGMENT:
                segments += 1
        struct.pack_into(LOSSES_RESPONSE, self._tx, HEADER_BYTES, _u32(report["boot_id"]),
                         _u32(report["acked_seq"]), _u32(report["lost_detail"]), _u32(report["lost_summary"]),
                         _u32(report["quarantined"]), _u32(report["failed_writes"]), segments,
                         _u32(self.discarded_bytes), _u32(self.discarded_frames))
        return 36

    def _sensor(self):
        sensor = self.sensor
        assert sensor is not None  # a request for it is refused without one, before _answer()
        struct.pack_into(SENSOR_RESPONSE, self._tx, HEADER_BYTES, _u32(self.store.boot_id),
                         _u32(self.clock.uptime_ms() // 1000), _u32(sensor.samples_read),
                         _u32(sensor.imu.overflows), _u32(sensor.imu_faults))
        return SENSOR_RESPONSE_BYTES

    # ---- sending ----------------------------------------------------------------------------

    def _send(self, command, status, tag, payload_bytes):
        """Finish the response frame whose payload is already in self._tx and write it as one line."""
        tx = self._tx
        struct.pack_into(HEADER, tx, 0, PROTOCOL_VERSION, (command | RESPONSE) & 0xFF, status, tag,
                         payload_bytes)
        end = HEADER_BYTES + payload_bytes
        struct.pack_into("<I", tx, end, crc32(memoryview(tx)[:end]) & _U32)
        line = self._line
        line[0] = START
        j = 1
        for i in range(end + CRC_BYTES):
            byte = tx[i]
            line[j] = _HEX[byte >> 4]
            line[j + 1] = _HEX[byte & 15]
            j += 2
        line[j] = LINE_FEED
        self.port.write(self._line_view[:j + 1])
