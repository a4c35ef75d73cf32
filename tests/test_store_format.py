"""Both ends against docs/store-format.md: the byte-layout tables are parsed from the markdown, and
records built by hand from them must read back and be written byte for byte by the store."""
import pathlib
import re
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import store

SPEC = (pathlib.Path(__file__).parent.parent / "docs" / "store-format.md").read_text()
STRUCT_CODE = {"u8": "B", "u16": "H", "u32": "I", "i32": "i"}
SIZE = {"u8": 1, "u16": 2, "u32": 4, "i32": 4}


def spec_table(heading):
    """Rows (offset, type, field) of the first table after a markdown heading."""
    section = SPEC.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and re.match(r"\| \d+", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((cells[0], cells[1], cells[2]))
        elif rows and not line.startswith("|"):
            break
    return rows


def struct_of(rows):
    offset = 0
    code = "<"
    for row_offset, kind, field in rows:
        assert int(row_offset) == offset, "%s: spec offset %s, expected %d" % (field, row_offset, offset)
        code += STRUCT_CODE[kind]
        offset += SIZE[kind]
    return code, offset


def test_header_table_is_the_header_the_store_writes():
    rows = spec_table("## Records")
    fixed = [r for r in rows if r[1] in STRUCT_CODE][:7]
    code, size = struct_of(fixed)
    assert code == store.HEADER
    assert size == store.HEADER_BYTES == 14
    assert [r[2] for r in fixed] == ["magic", "version", "kind", "flags", "key", "seq", "length"]
    assert "0x%02X" % store.MAGIC in SPEC
    assert "| 1 | u8 | version | %d |" % store.FORMAT_VERSION in SPEC and store.FORMAT_VERSION == 2


def test_summary_and_state_tables_are_the_layouts_the_store_writes():
    rows = spec_table("## Summary payload (kind 1)")
    code, size = struct_of(rows)
    assert code == store.SUMMARY + store.ANCHOR[1:]
    assert size == store.SUMMARY_BYTES + store.ANCHOR_BYTES == 34
    code, size = struct_of(spec_table("## State payload (kind 3)"))
    assert code == store.STATE
    assert size == store.STATE_BYTES == 16


def hand_built_summary():
    """A day summary assembled field by field from the spec, with zlib's CRC32."""
    payload = struct.pack("<i", 1_767_567_600)  # start_s: 2026-01-05 00:00 at UTC+1
    payload += struct.pack("<I", 7342) + struct.pack("<I", 3921)  # steps, walk_s
    payload += struct.pack("<HHH", 20, 31, 14)  # slow, moderate, brisk minutes
    payload += struct.pack("<HH", 9, 722)  # bouts, longest_bout_s
    payload += struct.pack("<HH", 912, 1440)  # worn_min, recorded_min
    header = bytes([0xD5, 2, 1, 0]) + struct.pack("<IIH", 20458, 7, len(payload))
    return header + payload + struct.pack("<I", zlib.crc32(header + payload))


def test_store_reads_and_writes_a_hand_built_record_identically():
    record = hand_built_summary()
    kind, flags, key, seq, payload, end = store.record_at(record, 0)
    assert (kind, flags, key, seq, end) == (1, 0, 20458, 7, 44) and len(record) == 44
    assert struct.unpack(store.SUMMARY, payload)[1] == 7342
    assert store.pack_record(kind, flags, key, seq, payload) == record


def test_a_damaged_byte_is_skipped_and_the_next_record_found():
    record = hand_built_summary()
    damaged = bytearray(record + record)
    damaged[20] ^= 0x01
    records, bad_bytes = store.parse_records(bytes(damaged))
    assert len(records) == 1 and bad_bytes == len(record)


@pytest.mark.parametrize("mg, code", [(0, 0), (1, 1), (7, 23), (8, 25), (100, 53), (65535, 128)])
def test_movement_code_follows_the_spec_formula(mg, code):
    # 100 mg: floor(log2) = 6, (800 >> 6) % 8 = 4, 1 + 48 + 4 = 53
    assert store.movement_code(mg) == code
    assert store.octave(code) == (mg.bit_length())


def token_rows():
    """(first bytes, bytes, minutes) of each row of the spec's minute token table: the first-byte
    pattern's letters are free bits, narrowed by a condition like 'c < 31'."""
    section = SPEC.split("### Minute tokens", 1)[1]
    rows = []
    for line in section.splitlines()[4:]:
        if not line.startswith("| "):
            break
        pattern, size, minutes = [c.strip() for c in line.strip("|").split("|")[:3]]
        bits, _, condition = pattern.partition(", ")
        first_bytes = set()
        for value in range(256):
            fields = {}
            for position, bit in enumerate(bits):
                own = (value >> (7 - position)) & 1
                if bit in "01" and int(bit) != own:
                    break
                fields[bit] = fields.get(bit, 0) << 1 | own
            else:
                if not condition or eval(condition, {}, fields):
                    first_bytes.add(value)
        rows.append((first_bytes, size, minutes))
    return rows


def test_token_table_gives_every_first_byte_one_meaning_and_names_the_reserved_ones():
    rows = token_rows()
    assert len(rows) == 6
    seen = set()
    for first_bytes, size, minutes in rows:
        assert not seen & first_bytes
        seen |= first_bytes
    reserved = set(range(256)) - seen
    assert reserved == set(range(0b11111000, 256)) and "First bytes 11111bbb are reserved." in SPEC
    for token in reserved:
        with pytest.raises(ValueError):
            store.decode_minutes(bytes([token, 0, 0, 0]), 0, bytearray(store.MAX_MINUTES * 4))


def minute_list(slots, first, end):
    return [tuple(slots[m * 4:m * 4 + 4]) for m in range(first, end)]


def test_minute_tokens_from_the_spec_table():
    tokens = bytes([
        0b01000010,  # 3 minutes without a record
        0b10_010_011,  # 3 idle minutes of octave 3
        0b110_01000, 60 * 4 + 2, 112,  # active, code 49 + 8 = 57: moderate pace, 60 s, 112 steps
        0b00_11_1010, 125,  # walking minute: brisk, code 57 + 10 - 8 = 59, 125 steps
        0b11011111, 35 * 4 + 1, 40, 90,  # active, any code: slow pace, 35 s, 40 steps, code 90
        0b111_00_110, 19,  # 20 idle minutes of octave 6
        0b111_01_001, 8, 0b10110001, 0b1,  # 9 idle minutes of octave 1 + the bits: 2 1 1 1 2 2 1 2 2
        0b111_10_100, 4, 0b11100100, 0b10,  # 5 idle minutes of octave 4 + 0, 1, 2, 3, 2
    ])
    slots = bytearray(store.MAX_MINUTES * 4)
    assert store.decode_minutes(tokens, 10, slots) == 10 + 3 + 3 + 1 + 1 + 1 + 20 + 9 + 5
    idle = lambda octave: (0x80, 0, 0, 8 * octave - 7)  # noqa: E731
    assert minute_list(slots, 10, 13) == [(0, 0, 0, 0)] * 3
    assert minute_list(slots, 13, 16) == [idle(3)] * 3
    assert minute_list(slots, 16, 19) == [(0x82, 60, 112, 57), (0x83, 60, 125, 59), (0x81, 35, 40, 90)]
    assert minute_list(slots, 19, 39) == [idle(6)] * 20
    assert minute_list(slots, 39, 48) == [idle(o) for o in (2, 1, 1, 1, 2, 2, 1, 2, 2)]
    assert minute_list(slots, 48, 53) == [idle(o) for o in (4, 5, 6, 7, 6)]
    assert bytes(store.encode_minutes(slots, 10, 53)) == tokens


def test_the_window_token_of_lowest_first_byte_is_a_window():
    """0xe0 (111wwbbb, w 0, b 0) is the first window byte, right after the active tokens' 110ccccc: 5 minutes of
    octave 0, code 0."""
    slots = bytearray(store.MAX_MINUTES * 4)
    assert store.decode_minutes(bytes([0b111_00_000, 4]), 0, slots) == 5
    assert minute_list(slots, 0, 6) == [(0x80, 0, 0, 0)] * 5 + [(0, 0, 0, 0)]


WINDOW_REFUSED = "reserved width, short or padding bits set"
NOT_ACTIVE = "out of range, or an idle minute"


@pytest.mark.parametrize("token, message", [
    (bytes([0b11111000, 0, 0, 0]), "window token 0xf8 at byte 0: " + WINDOW_REFUSED),  # reserved first byte
    (bytes([0x0A, 100]), "walking minute token 0x0a at byte 0: not after an active minute"),  # first in the payload
    (bytes([0x40, 0x0A, 100]), "walking minute token 0x0a at byte 1: not after an active minute"),  # after no record
    (bytes([0xC0 | 8, 61 * 4, 0]), "active minute token 0xc8 at byte 0: walk_s 61 or movement code 57 " + NOT_ACTIVE),
    (bytes([0xDF, 60 * 4, 100, 129]), "active minute token 0xdf at byte 0: walk_s 60 or movement code 129 "
     + NOT_ACTIVE),
    (bytes([0xC0 | 8, 60 * 4, 100, 0x00]), "active minute token 0x00 at byte 3: short"),  # code 57 - 8 = 49, short
    (bytes([0xDF, 0, 0, 49]), "active minute token 0xdf at byte 0: walk_s 0 or movement code 49 " + NOT_ACTIVE),  # idle
    (bytes([0b111_10_110, 0, 0b11]), "window token 0xf6 at byte 0: minute 0 of octave 9, above idle"),  # base 6 + 3
    (bytes([0b111_01_000, 2, 0b1000]), "window token 0xe8 at byte 0: " + WINDOW_REFUSED),  # bit 3 set past 3 minutes
    (bytes([0b111_10_000, 4, 0]), "window token 0xf0 at byte 0: " + WINDOW_REFUSED),  # 5 two-bit minutes in one byte
    (bytes([0xDF, 60 * 4 + 2, 100]), "active minute token 0xdf at byte 0: short"),
    (bytes([0x7F] * 24), "minute tokens run to minute 1536, past 1500"),  # 24 runs of 64 minutes without a record
    (bytes([0x7F] * 23 + [0x40 | 27, 0b10_000_001]), "minute tokens run to minute 1501, past 1500"),  # idle at 1500
    (bytes([0b111_00_000]), "window token 0xe0 at byte 0: " + WINDOW_REFUSED),  # no count byte
])
def test_reserved_and_malformed_tokens_are_rejected_with_the_token_and_its_byte(token, message):
    """The host shows the message (db.py, 'seq N: ...'): it names the token and where it is, in one line."""
    with pytest.raises(ValueError, match="^%s$" % re.escape(message)):
        store.decode_minutes(token, 0, bytearray(store.MAX_MINUTES * 4))


def test_capacity_arithmetic_in_the_spec():
    day_summary = store.HEADER_BYTES + store.SUMMARY_BYTES + store.CRC_BYTES
    per_pack = store.PACK_BYTES // day_summary
    assert "| summary record, day | %d |" % day_summary in SPEC
    assert "| summaries of 730 days | {:,} ({} packs of {}) |".format(
        730 * day_summary, -(-730 // per_pack), per_pack) in SPEC


def test_the_default_capacity_is_the_specs(tmp_path):
    default = store.DayStore(str(tmp_path), clock=None).capacity_bytes
    assert default % 1024 == 0 and "within `capacity_bytes` (%d KB)" % (default // 1024) in SPEC.replace("\n", " ")


def test_write_schedule_constants_in_the_spec():
    assert "(`FLUSH_EVERY_MIN` = %d)" % store.FLUSH_EVERY_MIN in SPEC
    assert "at most %d minutes." % store.FLUSH_EVERY_MIN in SPEC
    assert "Worn, still or off the wrist: every minute counts." in SPEC
    assert "<= %d bytes | after %d minutes" % (store.TAIL_BYTES, store.FLUSH_EVERY_MIN) in SPEC


def as_read_back(minute):
    """What the spec says a reader gets for a written minute (head, walk_s, steps, code): 'no
    record' stays empty, an idle minute keeps its octave only, any other minute every value."""
    head, walk_s, steps, code = minute
    octave = (code + 7) >> 3
    if not head:
        return (0, 0, 0, 0)
    if not (head & 3 or walk_s or steps or octave > 7):
        return (0x80, 0, 0, 8 * octave - 7 if octave else 0)
    return minute


def assert_round_trip(minutes, first=0):
    slots = bytearray(store.MAX_MINUTES * 4)
    for m, minute in enumerate(minutes):
        slots[(first + m) * 4:(first + m) * 4 + 4] = bytes(minute)
    end = first + len(minutes)
    tokens = store.encode_minutes(slots, first, end)
    decoded = bytearray(store.MAX_MINUTES * 4)
    assert store.decode_minutes(tokens, first, decoded) == end
    assert minute_list(decoded, first, end) == [as_read_back(m) for m in minutes]
    assert not any(decoded[:first * 4]) and not any(decoded[end * 4:])
    assert store.encode_minutes(decoded, first, end) == tokens
    return tokens


def test_every_active_minute_value_reads_back_exactly():
    # Every walk_s, pace and movement code, at four step counts: 125,904 minutes.
    minutes = [(0x80 | pace, walk_s, steps, code) for steps in (0, 1, 254, 255) for walk_s in range(61)
               for pace in range(4) for code in range(129)]
    for start in range(0, len(minutes), store.MAX_MINUTES):
        assert_round_trip(minutes[start:start + store.MAX_MINUTES])


def test_every_movement_change_between_walking_minutes_reads_back_exactly():
    # Each pair of codes as two full walking minutes, pairs kept apart by a minute without a
    # record: the deltas the 2-byte token holds and every one it cannot.
    pairs = [m for before in range(129) for after in range(129)
             for m in ((0x82, 60, 110, before), (0x83, 60, 125, after), (0, 0, 0, 0))]
    for start in range(0, len(pairs), 1497):
        assert_round_trip(pairs[start:start + 1497])


def spec_active_token(pace, walk_s, steps, code, previous_code=None):
    """The token the spec's 'Encoders write' paragraph names for an active minute after one of previous_code
    (None: the minute before was not written as active)."""
    if previous_code is not None and walk_s == 60 and -8 <= code - previous_code <= 7:
        return bytes([pace << 4 | (code - previous_code + 8), steps])
    if 49 <= code <= 79:
        return bytes([0b110_00000 | (code - 49), walk_s * 4 + pace, steps])
    return bytes([0b11011111, walk_s * 4 + pace, steps, code])


def test_an_active_minute_takes_the_token_the_spec_names_for_every_change_of_movement():
    """Every pair of codes as two active minutes: the first token is 3 bytes for codes 49..79 only, the second
    2 bytes only for a full walking minute (not one of 59 s) whose code is -8..7 from the first's."""
    for before in range(129):
        for after in range(129):
            for walk_s in (60, 59):
                slots = bytes([0x82, 60, 110, before, 0x83, walk_s, 125, after])
                expected = spec_active_token(2, 60, 110, before) + spec_active_token(3, walk_s, 125, after, before)
                assert bytes(store.encode_minutes(slots, 0, 2)) == expected, (before, after, walk_s)
    for code in range(129):  # after a minute without a record (run token 0x40), or an idle one of octave 3 (0x83)
        for before, token in (((0, 0, 0, 0), 0x40), ((0x80, 0, 0, 17), 0x83)):
            slots = bytes(before) + bytes([0x83, 60, 125, code])
            assert bytes(store.encode_minutes(slots, 0, 2)) == bytes([token]) + spec_active_token(3, 60, 125, code)


@pytest.mark.parametrize("octaves, tokens", [
    ([2] * 8, [0b10_111_010]),  # a run of 8: 1 byte for 8 minutes beats a window's 2
    ([2] * 9, [0b10_111_010, 0b10_000_010]),  # 9: a run of 8 and one of 1 (2/9 a minute > 1/8)
    ([2] * 16, [0b111_00_010, 15]),  # 16: 2 bytes for 16 ties the run's 1 for 8, the longer wins
    ([1] * 300, [0b111_00_001, 255, 0b111_00_001, 43]),  # a window holds at most 256 minutes
    ([1, 2] * 4, [0b111_01_001, 7, 0b10101010]),  # 1 bit a minute: 3 bytes for 8, a run only 1 minute
    ([1, 2] * 4 + [3] * 8, [0b111_10_001, 15, 0b01000100, 0b01000100, 0b10101010, 0b10101010]),  # 6/16 ties 3/8
    ([1, 2] * 4 + [1] + [3] * 7, [0b111_10_001, 15, 0b01000100, 0b01000100, 0b10101000, 0b10101010]),  # 6/16 < 4/9
    ([1, 2] * 2, [0b111_01_001, 3, 0b1010]),  # 1 and 2 bits both take 3 bytes for these 4: the narrower wins
    ([1, 4] * 4, [0b111_10_001, 7, 0b11001100, 0b11001100]),  # octaves 1..4 fill the widest window
])
def test_idle_minutes_take_the_token_of_fewest_bytes_a_minute_the_longer_on_a_tie(octaves, tokens):
    """docs/store-format.md, 'Encoders write': the longest stretch within 1, 2 and 4 octaves, as whichever of a
    run (up to 8 minutes) and a window of 0, 1 or 2 bits a minute costs the fewest bytes a minute."""
    slots = b"".join(bytes([0x80, 0, 0, 8 * o - 7 if o else 0]) for o in octaves)
    assert list(store.encode_minutes(slots, 0, len(octaves))) == tokens


any_head = st.integers(0, 3).map(lambda pace: 0x80 | pace)
octave_code = st.integers(0, 7).flatmap(lambda o: st.just(0) if o == 0 else st.integers(8 * o - 7, 8 * o))
stretch = st.one_of(
    st.tuples(st.just((0, 0, 0, 0)), st.integers(1, 100)).map(lambda t: [t[0]] * t[1]),  # no record
    st.lists(st.tuples(st.just(0x80), st.just(0), st.just(0), octave_code), min_size=1, max_size=300),
    st.integers(0, 4).flatmap(  # fidgeting within a few octaves
        lambda low: st.lists(st.integers(8 * low + 1, 8 * low + 32).map(lambda c: (0x80, 0, 0, c)),
                             min_size=1, max_size=300)),
    st.lists(st.tuples(any_head, st.sampled_from([60, 60, 60, 0, 1, 59]), st.integers(0, 255),
                       st.integers(40, 90)), min_size=1, max_size=60),  # a walk
    st.lists(st.tuples(any_head, st.integers(0, 60), st.integers(0, 255), st.integers(0, 128)),
             min_size=1, max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(stretch, min_size=1, max_size=12), st.integers(0, 1499))
def test_any_day_of_minutes_reads_back_exactly(stretches, first):
    minutes = [m for part in stretches for m in part][:store.MAX_MINUTES - first]
    assert_round_trip(minutes, first)


def test_a_record_with_an_empty_payload_reads_even_as_the_last_bytes():
    """The header's length may be 0: 14 header bytes and the CRC, nothing between."""
    record = store.pack_record(store.KIND_STATE, 0, 0, 0, b"")
    assert len(record) == 18 and store.record_at(record, 0) == (store.KIND_STATE, 0, 0, 0, b"", 18)


@pytest.mark.parametrize("cut", [1, 4, 5, 13, 14, 17, 40, 42, 43])
def test_a_record_cut_short_anywhere_is_damage_not_an_error(cut):
    """A reader never raises on bytes found on flash: a record cut after `cut` bytes is all bad bytes."""
    data = hand_built_summary()[:cut]
    assert store.record_at(data, 0) is None
    assert store.parse_records(data) == ([], cut)


@pytest.mark.parametrize("version", [1, 3])
def test_a_record_of_another_version_is_not_read_even_with_a_good_crc(version):
    """'a version 2 reader treats version 1 records as invalid'."""
    body = bytearray(hand_built_summary()[:-4])
    body[1] = version
    record = bytes(body) + struct.pack("<I", zlib.crc32(body))
    assert store.record_at(record, 0) is None and store.parse_records(record) == ([], len(record))
