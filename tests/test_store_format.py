"""Both ends against docs/store-format.md: the byte-layout tables are parsed from the markdown, and
records built by hand from them must read back and be written byte for byte by the store."""
import pathlib
import re
import struct
import zlib

import pytest

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
    assert "0x%02X" % store.MAGIC in SPEC and "| 1 | u8 | version | 1 |" in SPEC


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
    header = bytes([0xD5, 1, 1, 0]) + struct.pack("<IIH", 20458, 7, len(payload))
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


def test_minute_tokens_from_the_spec_table():
    tokens = bytes([
        0b01000010,  # 3 minutes without a record
        0b00_100_101,  # idle octave 4, then idle octave 5
        0b10_010_011,  # 3 idle minutes of octave 3
        0b11000010, 60, 112, 57,  # active: moderate pace, 60 s walking, 112 steps, code 57
    ])
    slots = bytearray(store.MAX_MINUTES * 4)
    assert store.decode_minutes(tokens, 10, slots) == 10 + 3 + 2 + 3 + 1
    minute = lambda m: tuple(slots[m * 4:m * 4 + 4])  # noqa: E731
    assert [minute(m)[0] for m in (10, 11, 12)] == [0, 0, 0]
    assert minute(13) == (0x80, 0, 0, 8 * 4 - 7)
    assert minute(14) == (0x80, 0, 0, 8 * 5 - 7)
    assert [minute(m) for m in (15, 16, 17)] == [(0x80, 0, 0, 8 * 3 - 7)] * 3
    assert minute(18) == (0x82, 60, 112, 57)
    assert bytes(store.encode_minutes(slots, 10, 19)) == tokens


@pytest.mark.parametrize("token", [bytes([0b11100000]), bytes([0b11000100, 0, 0, 0]), bytes([0xC0, 61, 0, 0])])
def test_reserved_tokens_are_rejected(token):
    with pytest.raises(ValueError):
        store.decode_minutes(token, 0, bytearray(store.MAX_MINUTES * 4))


def test_capacity_arithmetic_in_the_spec():
    day_summary = store.HEADER_BYTES + store.SUMMARY_BYTES + store.CRC_BYTES
    per_pack = store.PACK_BYTES // day_summary
    assert "| summary record, day | %d |" % day_summary in SPEC
    assert "| summaries of 730 days | {:,} ({} packs of {}) |".format(
        730 * day_summary, -(-730 // per_pack), per_pack) in SPEC


def test_write_schedule_constants_in_the_spec():
    assert "(`FLUSH_EVERY_MIN` = %d)" % store.FLUSH_EVERY_MIN in SPEC
    assert "at most %d minutes." % store.FLUSH_EVERY_MIN in SPEC
    assert "Worn, still or off the wrist: every minute counts." in SPEC
    assert "<= %d bytes | after %d minutes" % (store.TAIL_BYTES, store.FLUSH_EVERY_MIN) in SPEC
