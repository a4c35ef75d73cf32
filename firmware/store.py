"""Day store: per-minute records and day summaries on littlefs, in the format of
docs/store-format.md. Survives a power cut at any flash operation (loses at most the minutes since the
last write, <= 10) and never raises on bad data found on flash. Knows nothing of steps or serial
links."""
import os
import struct
from binascii import crc32

from .compat import const

FORMAT_VERSION = const(2)
MAGIC = const(0xD5)
KIND_SUMMARY = const(1)
KIND_MINUTES = const(2)
KIND_STATE = const(3)
FLAG_SEGMENT = const(1)  # unknown-time segment: key = boot_id << 8 | part
BOOT_ID_MASK = const(0xFFFFFF)  # a boot id fits a segment key's upper 24 bits
ROLLBACK_BOOT_STRIDE = const(256)  # a rollback moves this boot's id on this much per host seq: past the lost revision's boots
NO_RECORD = const(0)  # open_seq when nothing is open: seqs start at 1, and every u32 key is a real one

HEADER = "<BBBBIIH"  # magic, version, kind, flags, key, seq, payload length
HEADER_BYTES = const(14)
CRC_BYTES = const(4)
SUMMARY = "<IIIHHHHHHH"  # start_s (unsigned: past 2038), steps, walk_s, slow/moderate/brisk min, bouts, longest_bout_s, worn, recorded
SUMMARY_BYTES = const(26)
ANCHOR = "<II"  # segments only: anchor_uptime_s, anchor_epoch_s
ANCHOR_BYTES = const(8)
NO_ANCHOR = const(0xFFFFFFFF)
STATE = "<IIHHHH"  # boot_id, acked_seq, lost_detail, lost_summary, quarantined, failed_writes
STATE_BYTES = const(16)

MAX_MINUTES = const(1500)  # a local day has up to 25 h (DST fall-back)
FLUSH_EVERY_MIN = const(10)  # the loss bound: minutes not yet on flash
# A minute is worn at movement octave >= this (mean |dynamic accel| >= 8 mg): a placeholder above a
# still device's noise floor; calibrate on recordings. The host's worn minutes read it too.
WORN_OCTAVE = const(4)
IDLE_MAX_OCTAVE = const(7)  # movement >= 128 mg without steps (cycling, ...) takes an active token
SUMMARIES_KEPT = const(730)  # two years of day summaries before acked ones may be dropped
PACK_BYTES = const(4096)  # closed records are packed into files up to this size (one 4 KB block)
TAIL_BYTES = const(128)  # littlefs (MicroPython defaults) keeps files <= 128 B inline in metadata
_MINUTE_END_LAG_S = const(30)  # the detector hands over a minute just after it ended
_SLOT = const(4)  # RAM slot per minute: 0x80 | pace (0: no record), walk_s, steps, movement code
_WALK_DELTA_BIAS = const(8)  # 2-byte walking minute: movement code = previous minute's + 0..15 - 8
_ACTIVE3_FIRST_CODE = const(49)  # 3-byte active token: movement codes 49..79, i.e. 64-1023 mg
_ACTIVE3_CODES = const(31)
_ACTIVE4 = const(0xDF)  # the first byte of the 4-byte active token, for any movement code
_WINDOW_MAX_MINUTES = const(256)
_WRITE_RETRIES = const(4)
_ENOSPC = const(28)


def movement_code(movement_mg):
    """0..128, eight codes per octave: 1 + 8 * floor(log2 mg) + next three bits of mg."""
    if movement_mg <= 0:
        return 0
    exponent = 0
    while movement_mg >> (exponent + 1):
        exponent += 1
    return 1 + 8 * exponent + (((movement_mg << 3) >> exponent) & 7)


def octave(code):
    """Bit length of the movement in mg (0 for 0 mg, 4 for 8..15 mg)."""
    return (code + 7) >> 3


def octave_code(movement_octave):
    """The movement code an idle token decodes to: the lowest of its octave."""
    return 8 * movement_octave - 7 if movement_octave else 0


def pack_record(kind, flags, key, seq, payload):
    head = struct.pack(HEADER, MAGIC, FORMAT_VERSION, kind, flags, key, seq, len(payload))
    body = head + payload
    return body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def record_at(data, offset):
    """(kind, flags, key, seq, payload, end) of the valid record at offset, or None."""
    if offset + HEADER_BYTES + CRC_BYTES > len(data) or data[offset] != MAGIC:
        return None
    magic, version, kind, flags, key, seq, length = struct.unpack_from(HEADER, data, offset)
    end = offset + HEADER_BYTES + length
    if version != FORMAT_VERSION or end + CRC_BYTES > len(data):
        return None
    if struct.unpack_from("<I", data, end)[0] != crc32(data[offset:end]) & 0xFFFFFFFF:
        return None
    return kind, flags, key, seq, bytes(data[offset + HEADER_BYTES:end]), end + CRC_BYTES


def parse_records(data):
    """(records, bad_bytes): every valid record, skipping damaged bytes until a valid record
    starts again (a CRC32 match makes a false restart negligible)."""
    records = []
    bad_bytes = 0
    offset = 0
    while offset < len(data):
        record = record_at(data, offset)
        if record is None:
            bad_bytes += 1
            offset += 1
        else:
            records.append(record)
            offset = record[5]
    return records, bad_bytes


def encode_minutes(slots, first, end):
    """Tokens for minutes [first, end) of a slot array (docs/store-format.md, 'Minute tokens')."""
    out = bytearray()
    i = first
    previous_code = -1  # movement code of minute i - 1 if this stream wrote it as active, else -1
    while i < end:
        s = i * _SLOT
        if not slots[s]:
            run = 1
            while run < 64 and i + run < end and not slots[(i + run) * _SLOT]:
                run += 1
            out.append(0x40 | (run - 1))
            i += run
            previous_code = -1
        elif _is_active(slots, s):
            code = slots[s + 3]
            delta = code - previous_code + _WALK_DELTA_BIAS
            if previous_code >= 0 and slots[s + 1] == 60 and 0 <= delta <= 15:
                out.append(((slots[s] & 3) << 4) | delta)
                out.append(slots[s + 2])
            else:
                walk_pace = (slots[s + 1] << 2) | (slots[s] & 3)
                if 0 <= code - _ACTIVE3_FIRST_CODE < _ACTIVE3_CODES:
                    out.append(0xC0 | (code - _ACTIVE3_FIRST_CODE))
                    out.append(walk_pace)
                    out.append(slots[s + 2])
                else:
                    out.append(_ACTIVE4)
                    out.append(walk_pace)
                    out.append(slots[s + 2])
                    out.append(code)
            previous_code = code
            i += 1
        else:
            i = _encode_idle(slots, i, end, out)
            previous_code = -1
    return out


def _encode_idle(slots, i, end, out):
    """Append one token for idle minutes from i and return the minute after it: a run token or a
    window token of 0, 1 or 2 bits a minute, whichever costs the fewest bytes a minute (on a tie the
    one covering more minutes)."""
    low = high = octave(slots[i * _SLOT + 3])
    spans = [0, 0, 0]  # idle minutes from i within a window of 1, 2 and 4 octaves
    bases = [low, low, low]
    n = 0
    while i + n < end and n < _WINDOW_MAX_MINUTES and _is_idle(slots, (i + n) * _SLOT):
        level = octave(slots[(i + n) * _SLOT + 3])
        if level < low:
            low = level
        elif level > high:
            high = level
        if high - low > 3:
            break
        n += 1
        for bits in range(3):
            if spans[bits] == n - 1 and high - low < (1 << bits):
                spans[bits] = n
                bases[bits] = low
    best_bits = -1  # the run token
    best_bytes = 1
    best_minutes = min(spans[0], 8)
    for bits in range(3):
        size = 2 + (spans[bits] * bits + 7) // 8
        if (size * best_minutes < best_bytes * spans[bits]
                or (size * best_minutes == best_bytes * spans[bits] and spans[bits] > best_minutes)):
            best_bits, best_bytes, best_minutes = bits, size, spans[bits]
    if best_bits < 0:
        out.append(0x80 | ((best_minutes - 1) << 3) | bases[0])
        return i + best_minutes
    base = bases[best_bits]
    out.append(0xE0 | (best_bits << 3) | base)
    out.append(best_minutes - 1)
    if best_bits:
        packed = 0
        shift = 0
        for k in range(best_minutes):
            packed |= (octave(slots[(i + k) * _SLOT + 3]) - base) << shift
            shift += best_bits
            if shift == 8:
                out.append(packed)
                packed = shift = 0
        if shift:
            out.append(packed)
    return i + best_minutes


def _is_active(slots, s):
    return (slots[s] & 3) or slots[s + 1] or slots[s + 2] or octave(slots[s + 3]) > IDLE_MAX_OCTAVE


def _is_idle(slots, s):
    return slots[s] and not _is_active(slots, s)


def decode_minutes(tokens, first, slots):
    """Write minutes from `first` into slots; return the end minute. ValueError on a bad token."""
    i = first
    n = 0
    previous_code = -1
    while n < len(tokens):
        token = tokens[n]
        if token < 0x40 or 0xC0 <= token < 0xE0:
            size = 2 if token < 0x40 else (4 if token == _ACTIVE4 else 3)
            if n + size > len(tokens):
                raise ValueError("active minute token 0x%02x at byte %d: short" % (token, n))
            if token < 0x40:
                if previous_code < 0:
                    raise ValueError("walking minute token 0x%02x at byte %d: not after an active minute"
                                     % (token, n))
                head, walk_s, steps = 0x80 | (token >> 4), 60, tokens[n + 1]
                code = previous_code + (token & 15) - _WALK_DELTA_BIAS
            else:
                head, walk_s, steps = 0x80 | (tokens[n + 1] & 3), tokens[n + 1] >> 2, tokens[n + 2]
                code = tokens[n + 3] if size == 4 else _ACTIVE3_FIRST_CODE + (token & 0x1F)
            if (walk_s > 60 or not 0 <= code <= 128
                    or not (head & 3 or walk_s or steps or octave(code) > IDLE_MAX_OCTAVE)):
                raise ValueError("active minute token 0x%02x at byte %d: walk_s %d or movement code %d out"
                                 " of range, or an idle minute" % (token, n, walk_s, code))
            _set_slot(slots, i, head, walk_s, steps, code)
            previous_code = code
            i += 1
            n += size
            continue
        previous_code = -1
        if token < 0x80:
            i += (token & 0x3F) + 1
            n += 1
        elif token < 0xC0:
            for _ in range(((token >> 3) & 7) + 1):
                _set_slot(slots, i, 0x80, 0, 0, octave_code(token & 7))
                i += 1
            n += 1
        else:
            i, n = _decode_window(tokens, n, i, slots)
    if i > MAX_MINUTES:
        raise ValueError("minute tokens run to minute %d, past %d" % (i, MAX_MINUTES))
    return i


def _decode_window(tokens, n, i, slots):
    """Minutes of the window token at byte n, from minute i; (end minute, next byte)."""
    token = tokens[n]
    bits = (token >> 3) & 3
    base = token & 7
    count = tokens[n + 1] + 1 if n + 1 < len(tokens) else 0
    size = 2 + (count * bits + 7) // 8
    # the last byte's bits past the last minute must be 0: one byte string per window
    if bits == 3 or n + size > len(tokens) or (bits and tokens[n + size - 1] >> (count * bits % 8 or 8)):
        raise ValueError("window token 0x%02x at byte %d: reserved width, short or padding bits set"
                         % (token, n))
    mask = (1 << bits) - 1
    for k in range(count):
        level = base
        if bits:
            level += (tokens[n + 2 + ((k * bits) >> 3)] >> ((k * bits) & 7)) & mask
        if level > IDLE_MAX_OCTAVE:
            raise ValueError("window token 0x%02x at byte %d: minute %d of octave %d, above idle"
                             % (token, n, k, level))
        _set_slot(slots, i + k, 0x80, 0, 0, octave_code(level))
    return i + count, n + size


def _is_pack(name):
    return len(name) == 6 and name[0] in "ds" and name[1:].isdigit()


def _set_slot(slots, minute, head, walk_s, steps, code):
    if minute < MAX_MINUTES:
        s = minute * _SLOT
        slots[s] = head
        slots[s + 1] = walk_s
        slots[s + 2] = steps
        slots[s + 3] = code


def minute_slots():
    """Slots for decode_minutes(): every minute of a day, each "no record"."""
    return bytearray(MAX_MINUTES * _SLOT)


def minute_values(slots, minute):
    """(walk_s, steps, pace, movement_code) of a decoded minute, or None for "no record"."""
    s = minute * _SLOT
    if not slots[s]:
        return None
    return slots[s + 1], slots[s + 2], slots[s] & 3, slots[s + 3]


class DayStore:
    """The open record (today, or an unknown-time segment) lives in RAM and in two files: a base
    rewritten rarely and a tail small enough for littlefs to keep inline, rewritten in place after
    FLUSH_EVERY_MIN minutes. Closed records are appended to detail and summary packs."""

    def __init__(self, root, clock, capacity_bytes=128 * 1024):
        self.root = root
        self.clock = clock
        self.capacity_bytes = capacity_bytes
        self.slots = minute_slots()
        self.boot_id = 0
        self.acked_seq = 0
        self.lost_detail = 0
        self.lost_summary = 0
        self.quarantined = 0
        self.failed_writes = 0
        self.next_seq = 1
        self.boot_next_seq = 1
        self.packs = {"d": [], "s": []}  # pack numbers, oldest first
        self.pack_seqs = {}  # pack name -> (first_seq, last_seq, records)
        self._open_none()

    def _open_none(self):
        self.open_key = 0
        self.open_flags = 0
        self.open_seq = NO_RECORD
        self.start_s = 0
        self.anchor = (NO_ANCHOR, NO_ANCHOR)
        self.steps = 0
        self.bouts = 0
        self.longest_bout_s = 0
        self.slots[:] = bytes(len(self.slots))
        self.base_end = 0  # minutes [0, base_end) are in the base file
        self.dirty_from = MAX_MINUTES  # lowest minute changed since the last write
        self.unsaved_minutes = 0
        self.bout_ended = False

    # ---- boot: scan, quarantine, recover -------------------------------------------------

    def boot(self):
        """Mount-time recovery; call once after the filesystem is mounted. Never raises on data."""
        try:
            os.mkdir(self.root)
        except OSError:
            pass
        names = sorted(os.listdir(self.root))
        for name in names:
            if name.endswith(".tmp"):
                os.remove(self._path(name))
        state = self._read_valid("state", KIND_STATE)
        if state:
            (self.boot_id, self.acked_seq, self.lost_detail, self.lost_summary, self.quarantined,
             self.failed_writes) = struct.unpack(STATE, state[0][4])
        for name in names:
            if _is_pack(name):
                records = self._read_valid(name, KIND_MINUTES if name[0] == "d" else KIND_SUMMARY)
                if records:
                    self.packs[name[0]].append(int(name[1:]))
                    self._index_pack(name, records)
                elif self._exists(name):  # empty; a damaged one is already quarantined
                    os.remove(self._path(name))
        self.packs["d"].sort()
        self.packs["s"].sort()
        self._recover_open()
        self.boot_id += 1
        self.boot_next_seq = self.next_seq  # seqs from here on were given this boot
        self._write_state()

    def _read_valid(self, name, kind):
        """Valid records of `kind` in a file; a damaged file is renamed q<boot>.<name> (kept for
        inspection; the host is told how many) and its valid records written back."""
        try:
            with open(self._path(name), "rb") as f:
                data = f.read()
        except OSError:
            return []
        records, bad_bytes = parse_records(data)
        kept = [r for r in records if r[0] == kind]
        if bad_bytes or len(kept) != len(records):
            self._quarantine(name)
            if kept:
                self._write(name, b"".join(pack_record(*r[:5]) for r in kept))
        return kept

    def _quarantine(self, name):
        """Rename a damaged file q<n>.<name> with an n no file has (a lost state record restarts
        the count, and an older q file must not be overwritten)."""
        self.quarantined += 1
        number = self.quarantined
        while self._exists("q%d.%s" % (number, name)):
            number += 1
        os.rename(self._path(name), self._path("q%d.%s" % (number, name)))

    def _index_pack(self, name, records):
        self.pack_seqs[name] = (records[0][3], records[-1][3], len(records))
        self.next_seq = max(self.next_seq, records[-1][3] + 1)
        for record in records:
            self._seen_key(record[1], record[2])

    def _seen_key(self, flags, key):
        """Keep boot_id past every segment's on flash: a lost state record must not bring a boot id
        back, since the host groups a boot's segments by it."""
        if flags & FLAG_SEGMENT:
            self.boot_id = max(self.boot_id, key >> 8)

    def _recover_open(self):
        base = self._open_file("open.b")
        tail = self._open_file("open.t")
        if base and tail and tail[0][3] != base[0][3]:
            if tail[0][3] > base[0][3]:
                base = None
            else:
                tail = None
        newest = tail or base
        if not newest:
            return
        kind, flags, key, seq, payload, _ = newest[0]
        self.open_key, self.open_flags, self.open_seq = key, flags, seq
        self._seen_key(flags, key)
        self.next_seq = max(self.next_seq, seq + 1)
        if base:
            self.base_end = decode_minutes(base[1][4][2:], 0, self.slots)
        summary = base[0][4] if base else None
        if tail:
            tail_first = struct.unpack_from("<H", tail[1][4])[0]
            if tail_first >= self.base_end:
                decode_minutes(tail[1][4][2:], tail_first, self.slots)
                summary = tail[0][4]
        self._load_summary(summary)
        if self._packed(seq):
            self._close()

    def _open_file(self, name):
        """[summary, minutes] of an open-record file, or None; a damaged one is quarantined."""
        try:
            data = self._read(name)
        except OSError:
            return None
        records, bad_bytes = parse_records(data)
        if (not bad_bytes and len(records) == 2 and records[0][0] == KIND_SUMMARY
                and records[1][0] == KIND_MINUTES and records[1][3] == records[0][3]):
            return records
        self._quarantine(name)
        return None

    def _names(self):
        return os.listdir(self.root)

    def _load_summary(self, payload):
        values = struct.unpack_from(SUMMARY, payload)
        self.start_s, self.steps = values[0], values[1]
        self.bouts, self.longest_bout_s = values[6], values[7]
        if self.open_flags & FLAG_SEGMENT:
            self.anchor = struct.unpack_from(ANCHOR, payload, SUMMARY_BYTES)

    def _packed(self, seq):
        for kind in "ds":
            if self.packs[kind]:
                first, last, _ = self.pack_seqs[self._pack_name(kind, self.packs[kind][-1])]
                if last >= seq:
                    return True
        return False

    # ---- recording ---------------------------------------------------------------------

    def record_minute(self, walk_s, steps, pace, movement_mg):
        """One detector minute, placed by the clock; writes to flash when the schedule says so."""
        known, key, minute, start_s = self.clock.place(_MINUTE_END_LAG_S)
        flags = 0
        if not known:
            key = (self.boot_id << 8) | (key & 0xFF)
            flags = FLAG_SEGMENT
        if self.open_seq == NO_RECORD or (key, flags) != (self.open_key, self.open_flags):
            if self.open_seq != NO_RECORD:
                if known and self.open_flags & FLAG_SEGMENT and self.open_key >> 8 == self.boot_id:
                    self.anchor = self.clock.anchor()
                self._close()
            self.open_key, self.open_flags, self.open_seq = key, flags, self.next_seq
            self.next_seq += 1
            self.start_s = start_s
        if minute >= MAX_MINUTES:
            minute = MAX_MINUTES - 1
        s = minute * _SLOT
        if self.slots[s]:  # the host set the time back: the minute happened twice, combine
            walk_s = min(60, walk_s + self.slots[s + 1])
            steps_byte = min(255, steps + self.slots[s + 2])
            pace = max(pace, self.slots[s] & 3)
            code = max(movement_code(movement_mg), self.slots[s + 3])
        else:
            walk_s = min(60, walk_s)  # the detector's bound; a token has no room for more
            steps_byte = min(255, steps)
            code = movement_code(movement_mg)
        _set_slot(self.slots, minute, 0x80 | pace, walk_s, steps_byte, code)
        self.steps += steps
        self.dirty_from = min(self.dirty_from, minute)
        self.unsaved_minutes += 1
        if self.unsaved_minutes >= FLUSH_EVERY_MIN or self.bout_ended:
            self.flush()

    def open_walk_s(self):
        """Walking seconds of the open record (today, once the clock is set): the board's target cue."""
        slots = self.slots
        total = 0
        for s in range(1, len(slots), _SLOT):
            total += slots[s]
        return total

    def record_bout(self, duration_s):
        """A walking bout ended; the next minute record is written to flash at once."""
        self.bouts += 1
        self.longest_bout_s = max(self.longest_bout_s, min(duration_s, 0xFFFF))
        self.bout_ended = True

    def flush(self):
        """Write the open record: the inline tail, or base then tail when the tail is full or an
        older minute changed. The tail is rewritten in place once it exists (one littlefs commit
        instead of three: the spec's 'Files'). Keeps the data in RAM when the filesystem refuses."""
        if self.open_seq == NO_RECORD or not self.unsaved_minutes:
            return
        end = self._end_minute()
        summary = self._summary_record()
        tail = summary + self._minutes_record(self.base_end, end)
        if self.dirty_from < self.base_end or len(tail) > TAIL_BYTES:
            if not self._write("open.b", summary + self._minutes_record(0, end)):
                return
            self.base_end = end
            tail = summary + self._minutes_record(end, end)
        if self._write("open.t", tail, self._exists("open.t")):
            self.unsaved_minutes = 0
            self.dirty_from = MAX_MINUTES
            self.bout_ended = False

    def _end_minute(self):
        end = MAX_MINUTES
        while end > 0 and not self.slots[(end - 1) * _SLOT]:
            end -= 1
        return end

    def _summary_values(self):
        walk_s = 0
        pace_min = [0, 0, 0, 0]
        worn = 0
        recorded = 0
        slots = self.slots
        for s in range(0, len(slots), _SLOT):
            if slots[s]:
                recorded += 1
                walk_s += slots[s + 1]
                pace_min[slots[s] & 3] += 1
                if octave(slots[s + 3]) >= WORN_OCTAVE:
                    worn += 1
        return (self.start_s, self.steps, walk_s, pace_min[1], pace_min[2], pace_min[3], self.bouts,
                self.longest_bout_s, worn, recorded)

    def _summary_record(self):
        payload = struct.pack(SUMMARY, *self._summary_values())
        if self.open_flags & FLAG_SEGMENT:
            payload += struct.pack(ANCHOR, *self.anchor)
        return pack_record(KIND_SUMMARY, self.open_flags, self.open_key, self.open_seq, payload)

    def _minutes_record(self, first, end):
        payload = struct.pack("<H", first) + encode_minutes(self.slots, first, end)
        return pack_record(KIND_MINUTES, self.open_flags, self.open_key, self.open_seq, payload)

    # ---- closing a record into the packs -----------------------------------------------

    def _close(self):
        """Append the open record to the packs (each step atomic and skipped if already done),
        then drop the open files. A power cut anywhere here is finished at the next boot."""
        summary = self._summary_record()
        minutes = self._minutes_record(0, self._end_minute())
        self._append("d", minutes)
        self._append("s", summary)
        for name in ("open.t", "open.b"):
            try:
                os.remove(self._path(name))
            except OSError:
                pass
        self._open_none()

    def _append(self, kind, record):
        seq = self.open_seq
        packs = self.packs[kind]
        data = b""
        number = 0
        if packs:
            number = packs[-1]
            name = self._pack_name(kind, number)
            if self.pack_seqs[name][1] >= seq:
                return
            data = self._read(name)
            if len(data) + len(record) > PACK_BYTES:
                data = b""
                number += 1
        for _ in range(_WRITE_RETRIES):
            name = self._pack_name(kind, number)
            if self._make_room(len(data) + len(record), name) and self._write(name, data + record):
                if data:
                    first, last, count = self.pack_seqs[name]
                    self.pack_seqs[name] = (first, seq, count + 1)
                else:
                    packs.append(number)
                    self.pack_seqs[name] = (seq, seq, 1)
                return
            if not data or kind != "d":
                break
            # No room beside the newest minutes pack but by dropping summaries: start a new pack,
            # so that this one, now the oldest detail left, goes first.
            data = b""
            number += 1
        if kind == "d":
            self.lost_detail += 1
        else:
            self.lost_summary += 1
        self._write_state()

    def _make_room(self, new_bytes, writing):
        """Evict until the store fits capacity_bytes with the file `writing` (new_bytes) written
        beside the old one; False if it cannot."""
        block = self._block_size()
        while self._used_blocks(block) + (new_bytes + block - 1) // block > self.capacity_bytes // block:
            if not self._evict(writing):
                return False
        return True

    def _evict(self, writing):
        """Drop one file to make room for the file `writing`, never that one: quarantined files
        first (already reported), then the oldest summary pack past two years if acked, then the
        oldest minutes pack; summaries last, and never for minutes. Unacked drops are losses."""
        for name in self._names():
            if name[0] == "q":
                os.remove(self._path(name))
                return True
        summaries = [n for n in self.packs["s"] if self._pack_name("s", n) != writing]
        if len(summaries) > 1:
            oldest = self.pack_seqs[self._pack_name("s", summaries[0])]
            newer = sum(self.pack_seqs[self._pack_name("s", n)][2] for n in self.packs["s"][1:])
            if newer >= SUMMARIES_KEPT and oldest[1] <= self.acked_seq:
                return self._drop("s")
        if [n for n in self.packs["d"] if self._pack_name("d", n) != writing]:
            return self._drop("d")
        if summaries and writing[0] != "d":  # for a summary pack, the open record or the state
            return self._drop("s")
        return False

    def _drop(self, kind):
        name = self._pack_name(kind, self.packs[kind].pop(0))
        first, last, count = self.pack_seqs.pop(name)
        if last > self.acked_seq:
            lost = 0
            for record in parse_records(self._read(name))[0]:
                if record[3] > self.acked_seq:
                    lost += 1
            if kind == "d":
                self.lost_detail += lost
            else:
                self.lost_summary += lost
        os.remove(self._path(name))
        self._write_state()
        return True

    def _used_blocks(self, block):
        used = 0
        for name in self._names():
            size = os.stat(self._path(name))[6]
            if size > TAIL_BYTES:
                used += (size + block - 1) // block
        return used

    def _block_size(self):
        try:
            return os.statvfs(self.root)[0]
        except (OSError, AttributeError):
            return PACK_BYTES

    # ---- files ---------------------------------------------------------------------------

    def _path(self, name):
        return self.root + "/" + name

    def _pack_name(self, kind, number):
        return "%s%05d" % (kind, number)

    def _exists(self, name):
        try:
            os.stat(self._path(name))
            return True
        except OSError:
            return False

    def _read(self, name):
        with open(self._path(name), "rb") as f:
            return f.read()

    def _write(self, name, data, in_place=False):
        """Write-temp-then-rename, or with in_place rewrite an existing file: littlefs commits the
        new content at close, atomically. On ENOSPC evict and retry. False if the data is not on
        flash (the file then holds its old content)."""
        path = self._path(name)
        written = path if in_place else path + ".tmp"
        for _ in range(_WRITE_RETRIES):
            try:
                with open(written, "wb") as f:
                    f.write(data)
                if not in_place:
                    os.rename(written, path)
                return True
            except OSError as error:
                if not in_place:
                    try:
                        os.remove(written)
                    except OSError:
                        pass
                if error.args[0] != _ENOSPC or not self._evict(name):
                    break
        self.failed_writes = min(self.failed_writes + 1, 0xFFFF)
        return False

    def _write_state(self):
        payload = struct.pack(STATE, self.boot_id, self.acked_seq, min(self.lost_detail, 0xFFFF),
                              min(self.lost_summary, 0xFFFF), min(self.quarantined, 0xFFFF),
                              self.failed_writes)
        self._write("state", pack_record(KIND_STATE, 0, 0, 0, payload))

    # ---- sync protocol -------------------------------------------------------------------

    def unsynced(self):
        """[(seq, key, flags)] of records not yet acknowledged, oldest first; the open record last, written
        to flash first if it has unwritten minutes (left out if the filesystem refuses)."""
        found = []
        for number in self.packs["s"]:
            name = self._pack_name("s", number)
            if self.pack_seqs[name][1] > self.acked_seq:
                for kind, flags, key, seq, payload, end in parse_records(self._read(name))[0]:
                    if seq > self.acked_seq:
                        found.append((seq, key, flags))
        if self.open_seq != NO_RECORD:
            # The host keeps records by seq: offer the open one only once its seq is on flash, or a power cut
            # would give that seq to the next record (the host would then refuse every later sync).
            self.flush()
            if not self.unsaved_minutes:
                found.append((self.open_seq, self.open_key, self.open_flags))
        return found

    def read(self, seq):
        """Summary record then minutes record of `seq`, as bytes in the spec's format; b"" if the
        store no longer has it (a minutes record may be gone while its summary is kept)."""
        if self.open_seq != NO_RECORD and seq == self.open_seq:
            return self._summary_record() + self._minutes_record(0, self._end_minute())
        out = b""
        for kind in "sd":
            for number in self.packs[kind]:
                name = self._pack_name(kind, number)
                first, last, _ = self.pack_seqs[name]
                if first <= seq <= last:
                    data = self._read(name)
                    for record in parse_records(data)[0]:
                        if record[3] == seq:
                            out += pack_record(*record[:5])
        return out

    def ack(self, seq):
        """The host stored every closed record up to seq; they may now be dropped when full."""
        if self.open_seq != NO_RECORD and seq >= self.open_seq:
            seq = self.open_seq - 1
        if seq > self.acked_seq:
            self.acked_seq = seq
            self._write_state()

    def rolled_back(self, host_seq):
        """The host holds records up to host_seq, a seq this store never gave (or gave this boot, never sent): the
        filesystem mounted an older revision (docs/store-format.md, 'Rollback'). Count it lost once, and never give
        a seq or a boot id twice: this boot takes an id past any the lost revision gave (ROLLBACK_BOOT_STRIDE per
        host seq), and an open record opened this boot is renumbered past host_seq, a segment rekeyed to that id
        (the host holds another record under its seq and key); one recovered from flash keeps its seq and key,
        and the host merges it with its copy."""
        if host_seq > self.acked_seq:  # not yet counted: acking records the state then, see ack()
            self.lost_detail += 1
            self.lost_summary += 1
        old_boot = self.boot_id
        self.boot_id = (old_boot + host_seq * ROLLBACK_BOOT_STRIDE) & BOOT_ID_MASK
        if self.open_seq >= self.boot_next_seq:
            self.open_seq = host_seq + 1
            if self.open_flags & FLAG_SEGMENT and self.open_key >> 8 == old_boot:
                self.open_key = (self.boot_id << 8) | (self.open_key & 0xFF)
            self.base_end = 0
            self.dirty_from = 0
            self.unsaved_minutes = max(1, self.unsaved_minutes)
        self.next_seq = max(host_seq, self.open_seq) + 1
        self._write_state()
        self.flush()

    def report(self):
        """Counters the host shows at sync: what was lost, quarantined or not written."""
        return {"boot_id": self.boot_id, "acked_seq": self.acked_seq, "lost_detail": self.lost_detail,
                "lost_summary": self.lost_summary, "quarantined": self.quarantined,
                "failed_writes": self.failed_writes}

    def clear_report(self):
        self.lost_detail = self.lost_summary = self.quarantined = self.failed_writes = 0
        self._write_state()

    def quarantine_names(self):
        return sorted(n for n in self._names() if n[0] == "q")

    def read_quarantine(self, name):
        return self._read(name)
