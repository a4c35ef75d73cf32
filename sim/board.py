"""A simulated XIAO nRF52840 Sense: the board entry's own build (firmware/main.py, the xiao-nrf52840-sense
profile) on a fake `machine` whose I2C bus holds a register-level fake LSM6DS3TR-C, then the real main loop
(firmware/app.py); littlefs on a RAM flash, a clock that restarts at every boot, and the USB serial as this
process's stdin/stdout (the simulator bridges them to a pty).

    micropython sim/board.py CONFIG.json      (MICROPYPATH: the folder holding firmware/ and sim/)
    python sim/board.py CONFIG.json           (PYTHONPATH likewise; CPython: the flash is a folder, power cuts
                                              keep whole files)

Simulated time runs as fast as it can until it reaches the host's clock, then in step with it. Reports
what happens as JSON lines on stderr. Everything firmware/ does here it would do on a board: the fakes
sit behind the same interfaces (an I2C bus, ticks_ms, a block device, a byte stream). Board holds the world
around the firmware (wearer, chip, time, faults) and imports no firmware: the emulated Cortex-M4F board
(sim/arm_board.py) gets its firmware from `walkdose flash`.
"""
import json
import os
import sys
import time
from array import array

from sim import fake_machine
from sim.blockdev import PowerCut, RamFlash
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC
from sim.wearer import CountsFile, Wearer

TICKS_MASK = (1 << 30) - 1
FLASH_BLOCKS = 64  # the XIAO's 256 KB filesystem in 4 KB blocks
SAVE_EVERY_S = 3600  # the flash image is written to the host file every simulated hour and at exit
FIRMWARE_VERSION = "0.1.0-sim"


class Flash:
    """littlefs on a RAM flash saved to a host file (micropython), or a host folder (CPython)."""

    def __init__(self, path):
        self.path = path
        self.lfs = hasattr(os, "VfsLfs2")
        if not self.lfs:
            self.root = path
            return
        self.root = "/flash/walkdose"
        try:
            self.ram = RamFlash.load(path)
        except OSError:
            self.ram = RamFlash(4096, FLASH_BLOCKS)
            os.VfsLfs2.mkfs(self.ram)
        self.mounted = False

    def mount(self):
        if self.lfs:
            if self.mounted:
                os.umount("/flash")
            self.ram = self.ram.power_cycle()
            os.mount(os.VfsLfs2(self.ram), "/flash")
            self.mounted = True

    def save(self):
        if self.lfs:
            self.ram.save(self.path + ".tmp")
            os.rename(self.path + ".tmp", self.path)


class Board:
    """The world around a board's firmware: the wearer, the fake chip it moves, simulated time and its faults."""

    def __init__(self, config):
        self.board = config["board"]  # an LSM6DS3TR-C board: attach_chip() attaches that fake chip
        self.rate_mhz = config["rate_mhz"]
        self.speed = config["speed"]  # 0: as fast as it can until it reaches the host's clock
        self.start_epoch_s = config["start_epoch_s"]  # UTC when the simulated board is switched on
        self.power_cut_every_us = config["power_cut_every_min"] * 60000000
        self.late = config["late"]  # [every_min, late_ms]: the main loop oversleeps now and then
        self.imu_silent = config["imu_silent_s"]  # [from_s, to_s] of simulated time
        clips = [CountsFile(p) for p in config["clips"]]  # read as played: a clip of hours outgrows the heap
        self.wearer = Wearer(self.rate_mhz, config["plan"], clips, CountsFile(config["fidget"]),
                             config["wake_s"], config["sleep_s"], config["start_s"])
        self.imu_address = config["imu_address"]
        self.battery_adc = config["battery_adc"]  # [pin, read_u16 value]: the battery through its divider
        fake_machine.UNIQUE_ID = bytes(int(config["device_id"][i:i + 2], 16) for i in range(0, 16, 2))
        self.real_start_us = self.host_us()
        self.now_us = 0  # simulated time since start
        self.boot_us = 0
        self.fed = 0  # wearer samples handed to the chip
        self.samples = array("h", bytes(6 * 1024))
        self.next_cut_us = self.power_cut_every_us or -1
        self.next_save_us = SAVE_EVERY_S * 1000000
        self.next_late_us = self.late[0] * 60000000 if self.late else -1
        self.caught_up = False
        self.boots = 0

    def report(self, event, **fields):
        fields["event"] = event
        sys.stderr.write(json.dumps(fields) + "\n")

    def host_us(self):
        return int(time.time() * 1000000)

    def wait_us(self, us):
        time.sleep(us / 1000000)

    def ticks_ms(self):
        return (self.now_us - self.boot_us) // 1000 & TICKS_MASK

    def attach_chip(self):
        """Power on: `machine` is the fake with every chip at its reset state, ticks from 0."""
        self.boots += 1
        self.boot_us = self.now_us
        fake_machine.install()
        self.chip = fake_machine.bus.attach(self.imu_address, FakeLSM6DS3TRC())
        pin, value = self.battery_adc
        fake_machine.adc_u16[pin] = value

    def advance_ms(self, ms):
        self.advance(ms * 1000)

    def sleep_ms(self, ms):
        """Time passes: the wearer moves, the chip fills its FIFO, faults strike when due."""
        us = ms * 1000
        if self.next_late_us >= 0 and self.now_us + us >= self.next_late_us:
            us += self.late[1] * 1000
            self.next_late_us += self.late[0] * 60000000
            self.report("late", sim_s=self.now_us // 1000000, late_ms=self.late[1])
        if self.next_cut_us >= 0 and self.now_us + us >= self.next_cut_us:
            us = self.next_cut_us - self.now_us
            self.next_cut_us += self.power_cut_every_us
            self.advance(us)
            raise PowerCut("every %d min" % (self.power_cut_every_us // 60000000))
        self.advance(us)
        self.pace()

    def advance(self, us):
        self.now_us += us
        due = self.now_us * self.rate_mhz // 1000000000
        while self.fed < due:
            n = min(due - self.fed, len(self.samples) // 3)
            self.wearer.fill(self.samples, self.fed, n)
            self.chip.feed(self.samples[:3 * n])
            self.fed += n
        silent = self.imu_silent and self.imu_silent[0] * 1000000 <= self.now_us < self.imu_silent[1] * 1000000
        self.chip.answering = not silent
        self.chip.advance_us(us)
        if self.now_us >= self.next_save_us:
            self.next_save_us += SAVE_EVERY_S * 1000000
            self.hour_passed()

    def hour_passed(self):
        self.report("progress", sim_s=self.now_us // 1000000, samples=self.fed)

    def pace(self):
        """Run ahead of the host's clock only until caught up with it; then keep in step. Whole microseconds:
        a board's single-precision float cannot hold an epoch."""
        real_us = self.host_us()
        sim_epoch_us = self.start_epoch_s * 1000000 + self.now_us
        if sim_epoch_us < real_us and not self.speed:
            return
        if not self.caught_up and sim_epoch_us >= real_us:
            self.caught_up = True
            self.report("caught_up", sim_s=self.now_us // 1000000)
        if self.speed and not self.caught_up:
            ahead_us = int(self.now_us / self.speed) - (real_us - self.real_start_us)
        else:
            ahead_us = sim_epoch_us - real_us
        if ahead_us > 0:
            self.wait_us(ahead_us)


class UnixBoard(Board):
    """The board on the host: it builds the firmware from its checkout (there is no flash step) and saves its
    flash to a host file."""

    def __init__(self, config):
        Board.__init__(self, config)
        from firmware.stdio_port import StdioPort

        self.flash = Flash(config["flash"])
        self.port = StdioPort()
        self.board_file = config["flash"] + ".board.txt"  # what `walkdose flash` writes beside main.py
        with open(self.board_file, "w") as f:
            f.write(self.board + " " + FIRMWARE_VERSION)

    def boot(self):
        """Power on: the chips and ticks from attach_chip(), the flash as the power left it."""
        from firmware.main import build

        self.attach_chip()
        self.flash.mount()
        self.wearable = build(self.ticks_ms, self.advance_ms, self.port, self.flash.root,
                              self.board_file)
        self.report("boot", boot=self.boots, boot_id=self.wearable.store.boot_id, sim_s=self.now_us // 1000000)

    def hour_passed(self):
        self.flash.save()
        Board.hour_passed(self)

    def run(self):
        from firmware.app import run

        try:
            self.boot()  # inside: a Ctrl-C or SIGTERM just after the boot report still saves the flash
            while True:
                try:
                    run(self.wearable, self.sleep_ms)
                except PowerCut as cut:
                    self.report("power_cut", sim_s=self.now_us // 1000000, at=str(cut))
                    self.boot()
        except KeyboardInterrupt:
            pass
        finally:
            self.flash.save()
        self.report("stopped", sim_s=self.now_us // 1000000, boots=self.boots,
                    imu_overflows=self.wearable.imu.overflows, imu_faults=self.wearable.imu_faults)


def main(argv):
    with open(argv[1]) as f:
        config = json.load(f)
    try:
        UnixBoard(config).run()
    except Exception as exc:  # stdout is the USB serial: say it on stderr, where `walkdose sim` listens
        fields = {"event": "failed", "error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stderr.write(json.dumps(fields) + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
