"""The board's main loop under MicroPython with its I2C reads replayed from a recording of the fake chip, so
that the fake's own Python work is not counted. Run by benchmarks/loop_cost.py; not on its own.

    micropython loop_cost_board.py record|replay SAMPLES.i16 SECONDS WORKDIR   (MICROPYPATH: the repo)
"""
import sys
from array import array

from firmware.main import build
from sim import fake_machine
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC

BOARD = "xiao-nrf52840-sense"


class SilentPort:
    def read_into(self, buf):
        return 0

    def write(self, data):
        pass


class ReplayBus:
    """Answers each read with the recorded bytes: one copy per transfer, as machine.I2C costs."""

    def __init__(self, reads):
        self.reads = reads
        self.i = 0

    def readfrom_mem_into(self, address, reg, buf):
        buf[:] = self.reads[self.i]
        self.i += 1

    def writeto_mem(self, address, reg, buf):
        pass

    def scan(self):
        return [0x6A]


def load_reads(path):
    reads = []
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        n = data[at] | data[at + 1] << 8
        reads.append(data[at + 2:at + 2 + n])
        at += 2 + n
    return reads


def main(mode, raw, seconds, root):
    fake_machine.install()
    chip = FakeLSM6DS3TRC()
    with open(raw, "rb") as f:
        chip.feed(array("h", f.read()))
    log = bytearray()
    if mode == "replay":
        fake_machine.bus = ReplayBus(load_reads(raw + ".reads"))
    else:
        bus = fake_machine.bus
        bus.attach(0x6A, chip)
        read = bus.readfrom_mem_into

        def recorded(address, reg, buf):
            read(address, reg, buf)
            log.extend(bytes((len(buf) & 0xFF, len(buf) >> 8)))
            log.extend(buf)
        bus.readfrom_mem_into = recorded
    with open(root + "/walkdose_board.txt", "w") as f:
        f.write(BOARD + " 0.1.0\n")
    ticks = [0]
    wearable = build(lambda: ticks[0], lambda ms: None, SilentPort(), root + "/walkdose",
                     root + "/walkdose_board.txt")
    while ticks[0] < seconds * 1000:
        ms = wearable.poll()
        ticks[0] += ms
        if mode == "record":
            chip.advance_us(1000 * ms)
    if mode == "record":
        with open(raw + ".reads", "wb") as f:
            f.write(log)
    print(wearable.samples_read)


main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
