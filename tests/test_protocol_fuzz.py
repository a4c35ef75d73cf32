"""Both protocol parsers under hypothesis: random bytes, truncation, bit flips, inserted bytes and
oversized lengths never crash either end, the device never executes a frame other than one the host
sent and never writes a byte outside '~', hex digits and line feed (so never 0x03), and the host never
accepts a record other than the one the device holds."""
import re
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import link
from link_harness import Cable, week_of_walking
from walkdose import protocol

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEVICE_LINE = re.compile(rb"(~[0-9a-f]+\n)*")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return week_of_walking(tmp_path_factory.mktemp("template") / "flash")


@pytest.fixture
def fresh(template, tmp_path_factory):
    """A new copy of the template board for every example."""
    def make():
        return template.clone(tmp_path_factory.mktemp("board") / "flash")
    return make


class Recorder:
    """The device end as a fuzz test sees it: what it wrote, and every frame it executed."""

    def __init__(self, board):
        self.board = board
        self.written = bytearray()
        self.executed = []
        board.port.sink = self.written.extend
        answer = board.link._answer

        def recording_answer(command):
            length = board.link._rx[5] | board.link._rx[6] << 8
            self.executed.append(bytes(board.link._rx[:link.HEADER_BYTES + length + link.CRC_BYTES]))
            return answer(command)

        board.link._answer = recording_answer

    def feed(self, data, chunk):
        for i in range(0, len(data), chunk):
            self.board.port.incoming += data[i:i + chunk]
            self.board.serve()


def frame_of(line):
    return bytes.fromhex(line.strip().decode()[1:])


def requests():
    """Well-formed requests of every command, with payloads of the right and wrong lengths."""
    command = st.sampled_from([link.INFO, link.SET_TIME, link.LIST, link.FETCH, link.ACK, link.LOSSES, 0x00, 0x7F])
    payload = st.binary(max_size=link.MAX_REQUEST_PAYLOAD)
    return st.builds(lambda c, t, p: protocol.encode_frame(c, t, p), command, st.integers(0, 0xFFFF), payload)


def mutate(data, draw_flips, draw_cut, inserts):
    data = bytearray(data)
    for position, bit in draw_flips:
        data[position % len(data)] ^= 1 << bit
    for position, byte in inserts:
        data.insert(position % (len(data) + 1), byte)
    return bytes(data[:draw_cut]) if draw_cut is not None else bytes(data)


# ---- the device's parser -------------------------------------------------------------------

@FUZZ
@given(noise=st.binary(max_size=600), chunk=st.integers(1, 80))
def test_device_survives_random_bytes_and_writes_only_hex_lines(fresh, noise, chunk):
    board = fresh()
    device = Recorder(board)
    device.feed(noise, chunk)
    assert DEVICE_LINE.fullmatch(bytes(device.written)) and 0x03 not in device.written
    assert device.executed == [] and board.store.acked_seq == 0 and board.link.target_min == 100


@FUZZ
@given(stream=st.lists(st.one_of(requests(), st.binary(max_size=40)), max_size=12), chunk=st.integers(1, 80))
def test_device_answers_only_well_formed_requests_and_never_emits_0x03(fresh, stream, chunk):
    board = fresh()
    device = Recorder(board)
    device.feed(b"".join(stream), chunk)
    assert DEVICE_LINE.fullmatch(bytes(device.written)) and 0x03 not in device.written
    answers = [protocol.decode_line(line[1:]) for line in bytes(device.written).split(b"\n")[:-1]]
    assert None not in answers and len(answers) == len(device.executed) + sum(
        1 for a in answers if a[2] in (link.ERR_UNKNOWN_COMMAND, link.ERR_BAD_LENGTH))
    sent = [frame_of(item) for item in stream if item.startswith(b"~") and item.endswith(b"\n")]
    assert all(frame in sent for frame in device.executed)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=3),
       cut=st.one_of(st.none(), st.integers(0, 60)),
       inserts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2))
def test_a_damaged_ack_is_never_executed_as_another_frame(fresh, flips, cut, inserts):
    board = fresh()
    device = Recorder(board)
    original = protocol.encode_frame(link.ACK, 0x0203, struct.pack("<I", 2))
    damaged = mutate(original, flips, cut, inserts)
    device.feed(damaged + b"\n", 64)
    for frame in device.executed:  # a flip may only change a digit's case, never the frame
        assert frame == frame_of(original)
    assert board.store.acked_seq in (0, 2)


@FUZZ
@given(length=st.integers(link.MAX_REQUEST_PAYLOAD + 1, 0xFFFF), claimed=st.integers(0, 0xFFFF))
def test_oversized_and_mislabelled_lengths_are_dropped(fresh, length, claimed):
    board = fresh()
    device = Recorder(board)
    big = protocol.encode_frame(link.ACK, 1, bytes(min(length, 300)))
    frame = bytes([1, link.ACK, 0]) + struct.pack("<HH", 1, claimed) + struct.pack("<I", 2)
    liar = b"~" + (frame + struct.pack("<I", zlib.crc32(frame))).hex().encode() + b"\n"
    device.feed(big + liar, 64)
    if claimed == 4:
        assert len(device.executed) == 1  # the honest one
    else:
        assert device.executed == [] and board.store.acked_seq == 0
    assert board.link._rx_digits == -1


# ---- the host's parser -----------------------------------------------------------------------

@FUZZ
@given(line=st.binary(max_size=1200))
def test_host_decode_line_never_raises(line):
    frame = protocol.decode_line(line)
    assert frame is None or protocol.encode_frame(frame[1], frame[3], frame[4], frame[0], frame[2])[1:-1].lower() \
        == line.replace(b"\r", b"").lower()


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=3),
       cut=st.one_of(st.none(), st.integers(0, 200)),
       inserts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2))
def test_a_damaged_response_line_decodes_to_nothing_or_the_same_frame(flips, cut, inserts):
    original = protocol.encode_frame(link.FETCH | link.RESPONSE, 77, struct.pack("<IIII", 3, 5, 9, 0) + b"abcde")
    frame = protocol.decode_line(mutate(original, flips, cut, inserts)[1:].rstrip(b"\n"))
    assert frame is None or frame == protocol.decode_line(original[1:-1])


class NoisyCable(Cable):
    """Flips bits of, drops or inserts bytes into the device's answers at drawn positions."""

    def __init__(self, board, damage):
        super().__init__(board)
        self.damage = damage  # {stream offset: ("flip", bit) | ("drop", 0) | ("insert", byte)}
        self.seen = 0

    def _from_device(self, data):
        out = bytearray()
        for byte in data:
            kind, value = self.damage.get(self.seen, ("keep", 0))
            self.seen += 1
            if kind == "flip":
                out.append(byte ^ (1 << value))
            elif kind == "insert":
                out += bytes([value, byte])
            elif kind == "keep":
                out.append(byte)
        super()._from_device(bytes(out))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.dictionaries(st.integers(0, 3000), st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 7)), st.tuples(st.just("drop"), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 255))), max_size=6))
def test_the_host_never_accepts_a_wrong_record_from_a_noisy_line(fresh, damage):
    board = fresh()
    client = protocol.Client(NoisyCable(board, damage), response_timeout_s=0.005)
    try:
        entries = client.list()
        fetched = {seq: client.fetch(seq) for seq, _, _ in entries}
    except protocol.ProtocolError:  # NoAnswer included: a damaged line every attempt
        return
    assert entries == board.store.unsynced()
    assert fetched == {seq: board.store.read(seq) for seq, _, _ in entries}


@FUZZ
@given(noise=st.binary(max_size=3000))
def test_the_host_client_survives_a_port_of_random_bytes(noise):
    class RandomPort:
        timeout = 0.001
        pending = bytearray(noise)

        def write(self, data):
            assert 0x03 not in data and re.fullmatch(rb"~[0-9a-f]+\n", data)

        def read(self, n):
            data = bytes(self.pending[:n])
            del self.pending[:n]
            return data

    with pytest.raises(protocol.NoAnswer):
        protocol.Client(RandomPort(), response_timeout_s=0.002, attempts=2).info()
