"""The simulated XIAO's hardware on the emulated Cortex-M4F (QEMU mps2-an386, host/qemu_board), set up by main(),
which /rom/boot.py calls at every boot before the main.py that `walkdose flash` copies: the board's flash (littlefs on PSRAM, which outlives
resets as a board's flash does) mounted at /, `machine` the fake whose I2C bus holds the LSM6DS3TR-C the wearer
moves, and `time` the simulated clock, whose sleep_ms is where simulated time passes. The wearer puts the board
on when the flashed firmware first sleeps: time at the REPL (mpremote's, before and during a flash) is not worn.
The world's time is kept in PSRAM too, so a reset (mpremote's, every command) does not turn it back.

Worn from the past (config behind_s): from its first sleep the world keeps in step with the host's clock as it was
behind_s earlier, rounded down to a whole minute, for hold_s, long enough for `walkdose flash` to set the board's
clock to that past; then it runs as fast as it can until it reaches the host's clock, as sim/board.py does. Reports go to QEMU's stderr as JSON lines,
with the guest instructions each simulated hour took (under -icount shift=0 a microsecond of guest time is 1,000).
Knows no firmware: the board is bare until flashed.
"""
import json
import sys
import time

import uctypes
import vfs
import walkdose_board
from sim import fake_machine
from sim.blockdev import RamFlash
from sim.board import SAVE_EVERY_S, Board

CONFIG = "/rom/board.json"
STATE = {"now_us": 0 | uctypes.UINT64, "lag_us": 8 | uctypes.UINT64, "start_epoch_s": 16 | uctypes.UINT32,
         "boots": 20 | uctypes.UINT32}


class TimedBus:
    """The fake I2C bus, its guest time counted: on a board the I2C peripheral does this work, not the CPU."""

    def __init__(self, bus, board):
        self.bus = bus
        self.board = board

    def scan(self):
        return self.bus.scan()

    def readfrom_mem_into(self, address, reg, buf):
        t0 = time.ticks_us()
        self.bus.readfrom_mem_into(address, reg, buf)
        self.board.bus_us += time.ticks_diff(time.ticks_us(), t0)

    def writeto_mem(self, address, reg, buf):
        t0 = time.ticks_us()
        self.bus.writeto_mem(address, reg, buf)
        self.board.bus_us += time.ticks_diff(time.ticks_us(), t0)


class ArmBoard(Board):
    def __init__(self, config):
        self.state = uctypes.struct(walkdose_board.STATE_ADDR, STATE)
        now_us = self.state.now_us
        Board.__init__(self, config)
        self.now_us = now_us
        self.fed = now_us * self.rate_mhz // 1000000000  # the chip is new, the wearer goes on where it was
        self.next_save_us = (now_us // (SAVE_EVERY_S * 1000000) + 1) * SAVE_EVERY_S * 1000000
        self.start_epoch_s = self.state.start_epoch_s  # 0 until the firmware first sleeps
        self.behind_s = config["behind_s"]
        self.hold_us = config["hold_s"] * 1000000
        self.world_us = 0  # guest time in sleep_ms this hour: the wearer, the chip's FIFO, pacing
        self.idle_us = 0  # of which waiting for the host's clock (guest time then is host time, not instructions)
        self.bus_us = 0  # guest time on the fake I2C bus this hour
        self.loop_us = 0  # guest time between sleeps this hour: the firmware's main loop
        self.awake_at = time.ticks_us()

    @property
    def now_us(self):
        return self.state.now_us

    @now_us.setter
    def now_us(self, us):
        self.state.now_us = us

    def report(self, event, **fields):
        fields["event"] = event
        walkdose_board.report(json.dumps(fields))

    def host_us(self):
        return walkdose_board.host_us()

    def wait_us(self, us):
        t0 = time.ticks_us()
        until = walkdose_board.host_us() + us
        while walkdose_board.host_us() < until:
            walkdose_board.idle()
        self.idle_us += time.ticks_diff(time.ticks_us(), t0)

    def boot(self):
        self.worn = walkdose_board.runs_main()
        self.attach_chip()
        self.state.boots += 1
        fake_machine.bus = TimedBus(fake_machine.bus, self)
        fake_machine.reset = walkdose_board.reset  # mpremote's reset: boot into main.py
        sys.modules["time"] = self  # the firmware's time.ticks_ms and time.sleep_ms
        memory = uctypes.bytearray_at(walkdose_board.FLASH_ADDR, walkdose_board.FLASH_BYTES)
        flash = RamFlash.over(memory)
        try:
            vfs.mount(vfs.VfsLfs2(flash), "/")
        except OSError:  # a new board: MicroPython formats a blank flash at its first boot
            vfs.VfsLfs2.mkfs(flash)
            vfs.mount(vfs.VfsLfs2(flash), "/")
        self.report("boot", boot=self.state.boots, sim_s=self.now_us // 1000000)

    def sleep_ms(self, ms):
        if not self.worn:
            return
        t0 = time.ticks_us()
        self.loop_us += time.ticks_diff(t0, self.awake_at)
        if not self.start_epoch_s:
            host_us = self.host_us()
            self.start_epoch_s = self.state.start_epoch_s = (host_us // 1000000 - self.behind_s) // 60 * 60
            self.state.lag_us = host_us - self.start_epoch_s * 1000000
            self.report("worn", start_epoch_s=self.start_epoch_s, lag_us=self.state.lag_us)
        Board.sleep_ms(self, ms)
        self.awake_at = time.ticks_us()
        self.world_us += time.ticks_diff(self.awake_at, t0)

    def pace(self):
        if self.now_us >= self.hold_us:
            Board.pace(self)
            return
        ahead_us = self.start_epoch_s * 1000000 + self.now_us - (self.host_us() - self.state.lag_us)
        if ahead_us > 0:
            self.wait_us(ahead_us)

    def hour_passed(self):
        self.report("progress", sim_s=self.now_us // 1000000, samples=self.fed, caught_up=self.caught_up,
                    loop_instructions=(self.loop_us - self.bus_us) * 1000, bus_instructions=self.bus_us * 1000,
                    world_instructions=(self.world_us - self.idle_us) * 1000)
        self.world_us = self.idle_us = self.bus_us = self.loop_us = 0


def main():
    with open(CONFIG) as f:
        ArmBoard(json.load(f)).boot()
