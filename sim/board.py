"""A simulated XIAO nRF52840 Sense: the board entry's own build (firmware/main.py, the xiao-nrf52840-sense
profile) on a fake `machine` whose I2C bus holds a register-level fake LSM6DS3TR-C, then the real main loop
(firmware/app.py); littlefs on a RAM flash, a clock that restarts at every boot, and the USB serial as this
process's stdin/stdout (the simulator bridges them to a pty).

    micropython sim/board.py CONFIG.json      (MICROPYPATH: the folder holding firmware/ and sim/)
    python sim/board.py CONFIG.json           (PYTHONPATH likewise; CPython: the flash is a folder, power cuts
                                              keep whole files)

Simulated time runs as fast as it can until it reaches the host's clock, then in step with it. Reports
what happens as JSON lines on stderr. Everything firmware/ does here it would do on a board: the fakes
sit behind the same interfaces (an I2C bus, ticks_ms, a block device, a byte stream).
"""
import json
import os
import sys
import time
from array import array

from firmware.app import run
from firmware.boards import profile_named
from firmware.main import build
from firmware.stdio_port import StdioPort
from sim import fake_machine
from sim.blockdev import PowerCut, RamFlash
from sim.fake_lsm6ds3trc import FakeLSM6DS3TRC
from sim.wearer import CountsFile, Wearer

TICKS_MASK = (1 << 30) - 1
FLASH_BLOCKS = 64  # the XIAO's 256 KB filesystem in 4 KB blocks
BATTERY_MV = 3900  # a LiPo half full; the fake ADC reads it through the profile's divider
SAVE_EVERY_S = 3600  # the flash image is written to the host file every simulated hour and at exit
FIRMWARE_VERSION = "0.1.0-sim"


def report(event, **fields):
    fields["event"] = event
    sys.stderr.write(json.dumps(fields) + "\n")


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
    def __init__(self, config):
        self.board = config["board"]  # an LSM6DS3TR-C board: boot() attaches that fake chip
        self.rate_mhz = config["rate_mhz"]
        self.speed = config["speed"]  # 0: as fast as it can until it reaches the host's clock
        self.start_epoch_s = config["start_epoch_s"]  # UTC when the simulated board is switched on
        self.power_cut_every_us = config["power_cut_every_min"] * 60000000
        self.late = config["late"]  # [every_min, late_ms]: the main loop oversleeps now and then
        self.imu_silent = config["imu_silent_s"]  # [from_s, to_s] of simulated time
        clips = [CountsFile(p) for p in config["clips"]]  # read as played: a clip of hours outgrows the heap
        self.wearer = Wearer(self.rate_mhz, config["plan"], clips, CountsFile(config["fidget"]),
                             config["wake_s"], config["sleep_s"], config["start_s"])
        self.flash = Flash(config["flash"])
        self.port = StdioPort()
        self.board_file = config["flash"] + ".board.txt"  # what `walkdose flash` writes beside main.py
        with open(self.board_file, "w") as f:
            f.write(self.board + " " + FIRMWARE_VERSION)
        fake_machine.UNIQUE_ID = bytes(int(config["device_id"][i:i + 2], 16) for i in range(0, 16, 2))
        self.real_start_s = time.time()
        self.now_us = 0  # simulated time since start
        self.boot_us = 0
        self.fed = 0  # wearer samples handed to the chip
        self.samples = array("h", bytes(6 * 1024))
        self.next_cut_us = self.power_cut_every_us or -1
        self.next_save_us = SAVE_EVERY_S * 1000000
        self.next_late_us = self.late[0] * 60000000 if self.late else -1
        self.caught_up = False
        self.boots = 0

    def ticks_ms(self):
        return (self.now_us - self.boot_us) // 1000 & TICKS_MASK

    def boot(self):
        """Power on: every chip at its reset state, ticks from 0, the flash as the power left it."""
        self.boots += 1
        self.boot_us = self.now_us
        fake_machine.reset()
        profile = profile_named(self.board)
        self.chip = fake_machine.bus.attach(profile["imu_address"], FakeLSM6DS3TRC())
        battery = profile["battery"]
        fake_machine.adc_u16[battery["adc_pin"]] = (BATTERY_MV * battery["den"] // battery["num"] * 65535
                                                    // battery["full_scale_mv"])
        self.flash.mount()
        self.wearable = build(self.ticks_ms, self.advance_ms, self.port, self.flash.root,
                              self.board_file)
        report("boot", boot=self.boots, boot_id=self.wearable.store.boot_id, sim_s=self.now_us // 1000000)

    def advance_ms(self, ms):
        self.advance(ms * 1000)

    def sleep_ms(self, ms):
        """Time passes: the wearer moves, the chip fills its FIFO, faults strike when due."""
        us = ms * 1000
        if self.next_late_us >= 0 and self.now_us + us >= self.next_late_us:
            us += self.late[1] * 1000
            self.next_late_us += self.late[0] * 60000000
            report("late", sim_s=self.now_us // 1000000, late_ms=self.late[1])
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
            self.flash.save()
            report("progress", sim_s=self.now_us // 1000000, samples=self.fed)

    def pace(self):
        """Run ahead of the host's clock only until caught up with it; then keep in step."""
        real_s = time.time()
        sim_epoch_s = self.start_epoch_s + self.now_us / 1000000
        if sim_epoch_s < real_s and not self.speed:
            return
        if not self.caught_up and sim_epoch_s >= real_s:
            self.caught_up = True
            report("caught_up", sim_s=self.now_us // 1000000)
        if self.speed and not self.caught_up:
            ahead_s = self.now_us / 1000000 / self.speed - (real_s - self.real_start_s)
        else:
            ahead_s = sim_epoch_s - real_s
        if ahead_s > 0:
            time.sleep(ahead_s)

    def run(self):
        try:
            self.boot()  # inside: a Ctrl-C or SIGTERM just after the boot report still saves the flash
            while True:
                try:
                    run(self.wearable, self.sleep_ms)
                except PowerCut as cut:
                    report("power_cut", sim_s=self.now_us // 1000000, at=str(cut))
                    self.boot()
        except KeyboardInterrupt:
            pass
        finally:
            self.flash.save()
        report("stopped", sim_s=self.now_us // 1000000, boots=self.boots,
               imu_overflows=self.wearable.imu.overflows, imu_faults=self.wearable.imu_faults)


def main(argv):
    with open(argv[1]) as f:
        config = json.load(f)
    try:
        Board(config).run()
    except Exception as exc:  # stdout is the USB serial: say it on stderr, where `walkdose sim` listens
        report("failed", error="%s: %s" % (type(exc).__name__, exc))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
