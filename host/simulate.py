"""`walkdose sim`: a simulated board (sim/board.py running the real firmware, or with --arm an emulated
Cortex-M4F, bare until `walkdose flash`: sim/arm_board.py under QEMU) on a pty, fed by recordings played as the
wearer's days. This module prepares the wearer's clips, starts the board, bridges its serial to a pty and prints
what the board reports; it never interprets steps or records."""
import argparse
import datetime
import importlib.resources
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

import numpy as np

from . import argtypes, commands, qemu, recording, replay
from .errors import UserError
from .firmware import boards

BOARD = "xiao-nrf52840-sense"  # the profile sim/board.py builds around its fake LSM6DS3TR-C
PROFILE = boards.profile_named(BOARD)
RATE_MHZ = PROFILE["rate_mhz"]
BATTERY_MV = 3900  # a LiPo half full; the fake ADC reads it through the profile's divider
WAKE_S = 7 * 3600
SLEEP_S = 23 * 3600
DEFAULT_WALK_TIMES_S = (7 * 3600 + 30 * 60, 12 * 3600 + 15 * 60, 17 * 3600 + 45 * 60, 20 * 3600 + 30 * 60)
DEFAULT_WALK_S = 25 * 60  # a recording without xN repeats to about this long
MAX_DAYS = 31
FLASH_HOLD_S = 10  # an emulated board worn from the past keeps in step with it this long: walkdose flash sets its clock
FIDGET_S = 600
FIDGET_MG = 30  # sitting and fidgeting: movement ~13 mg (worn) and no rhythm (tests/test_simulate.py)
SPEC = re.compile(r"^(?P<path>.+?)(?:@(?P<hh>\d{1,2}):(?P<mm>\d{2}))?(?:x(?P<n>\d+))?$")


def parse_recording_spec(text):
    """FILE[@HH:MM][xN] -> (path, start_s or None, repeats or None)."""
    m = SPEC.match(text)
    if not m or not m["path"]:
        raise UserError(f"--recording {text!r}: expected FILE[@HH:MM][xN]")
    start_s = None
    if m["hh"] is not None:
        hh, mm = int(m["hh"]), int(m["mm"])
        if hh > 23 or mm > 59:
            raise UserError(f"--recording {text!r}: {hh:02d}:{mm:02d} is not a time of day")
        start_s = hh * 3600 + mm * 60
    return m["path"], start_s, int(m["n"]) if m["n"] else None


def day_plan(specs, clip_samples, rate_mhz):
    """(start_s, clip, repeats) per spec; specs without a time take the default walk times in order."""
    defaults = iter(DEFAULT_WALK_TIMES_S)
    plan = []
    for clip, (path, start_s, repeats) in enumerate(specs):
        if start_s is None:
            start_s = next(defaults, None)
            if start_s is None:
                raise UserError(f"--recording {path}: give it a time of day (FILE@HH:MM): the "
                                f"{len(DEFAULT_WALK_TIMES_S)} default walk times are taken")
        if repeats is None:
            repeats = max(1, round(DEFAULT_WALK_S * rate_mhz / 1000 / clip_samples[clip]))
        plan.append((start_s, clip, repeats))
    return plan


def fidget_clip(rate_mhz, seconds=FIDGET_S, seed=7):
    """Worn but sitting: irregular 0.3-4 Hz wobble of FIDGET_MG rms, mostly vertical; deterministic."""
    rng = np.random.default_rng(seed)
    rate_hz = rate_mhz / 1000
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    wobble = np.zeros(len(t))
    for f in rng.uniform(0.3, 4, 25):
        wobble += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.2, 1)
    wobble *= FIDGET_MG / 1000 / np.std(wobble)
    g = np.zeros((len(t), 3))
    g[:, 0] = 0.3 * wobble
    g[:, 2] = 1 + wobble
    return np.clip(np.round(g * 4096), -32768, 32767).astype("<i2")


def write_clip(path, clip_path):
    """The recording as int16 counts at the board's rate in clip_path, chunk by chunk (the board reads it as it
    plays, so neither side holds a clip of hours whole); -> (clip_path, samples)."""
    samples = 0
    with open(clip_path, "wb") as f:
        for counts in recording.iter_counts(path, RATE_MHZ, 4096):
            counts.astype("<i2").tofile(f)
            samples += len(counts)
    if not samples:
        raise recording.too_short(path, RATE_MHZ)
    return clip_path, samples


def battery_adc(battery):
    """[pin, read_u16()] of the board's battery ADC at BATTERY_MV."""
    return [battery["adc_pin"], BATTERY_MV * battery["den"] // battery["num"] * 65535 // battery["full_scale_mv"]]


def start_day(days, start):
    """Local midnight starting the first simulated day: `start` (YYYY-MM-DD), else `days` days before today."""
    today = datetime.date.today()
    if start is None:
        first = today - datetime.timedelta(days=days)
    else:
        try:
            first = datetime.date.fromisoformat(start)
        except ValueError:
            raise UserError(f"--start {start!r}: expected YYYY-MM-DD") from None
    if first > today:
        raise UserError(f"--start {first}: in the future; the simulated board runs until it reaches "
                        "this computer's clock, which sync sets on the board")
    if (today - first).days > MAX_DAYS:
        raise UserError(f"--start {first}: more than {MAX_DAYS} days ago; simulating that long takes hours")
    return datetime.datetime.combine(first, datetime.time())


def board_command(engine, config_path):
    """sim/board.py under the chosen interpreter, with firmware/ and sim/ importable as on a board."""
    root = replay.firmware_root()
    script = os.path.join(root, "sim", "board.py")
    if engine == "micropython":
        return [commands.find("micropython"), script, config_path], dict(os.environ, MICROPYPATH=root)
    return [sys.executable, script, config_path], dict(os.environ, PYTHONPATH=root)


def arm_command(firmware, workdir, config):
    """QEMU running the emulated board `firmware` (qemu.build's): sim/ and the wearer's clips in its ROM filesystem,
    and a /rom/boot.py that sets up the board's hardware (sim/arm_board.py)."""
    sim_dir = os.path.join(replay.firmware_root(), "sim")
    rom = os.path.join(workdir, "rom")
    shutil.copytree(sim_dir, os.path.join(rom, "sim"), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with open(os.path.join(rom, "boot.py"), "w") as f:
        f.write("from sim.arm_board import main\nmain()\n")
    guest = dict(config)
    for key in ("clips", "fidget"):
        paths = config[key] if key == "clips" else [config[key]]
        for path in paths:
            os.link(path, os.path.join(rom, os.path.basename(path)))
        on_rom = ["/rom/" + os.path.basename(path) for path in paths]
        guest[key] = on_rom if key == "clips" else on_rom[0]
    with open(os.path.join(rom, "board.json"), "w") as f:
        json.dump(guest, f)
    image = os.path.join(workdir, "rom.img")
    qemu.write_rom(rom, image)
    return qemu.command(firmware, image)


class Simulator:
    """A running simulated board: `pty_path` is its USB serial; `events` gets what it reports.

    arm_firmware: the board runs on an emulated Cortex-M4F (qemu.build's firmware), bare until flashed; the wearer
    puts it on when the flashed firmware first sleeps (sim/arm_board.py). With start None it runs in step with the
    host's clock; with a start, it is worn from that past: it reports 'worn' with its lag behind the host's clock,
    keeps that lag for FLASH_HOLD_S (a flash that sets its clock to the host's minus the lag sets it to the
    simulated time), then catches up.
    """

    def __init__(self, recordings, workdir, start, speed=0.0, power_cut_every_min=0, late=None, imu_silent_s=None,
                 flash=None, engine="micropython", device_id="5a17d05e00000001", arm_firmware=None):
        self.workdir = workdir
        specs = [parse_recording_spec(r) for r in recordings]
        clips = [write_clip(path, os.path.join(workdir, f"clip{i}.i16")) for i, (path, _, _) in enumerate(specs)]
        fidget_path = os.path.join(workdir, "fidget.i16")
        fidget_clip(RATE_MHZ).tofile(fidget_path)
        self.plan = day_plan(specs, [n for _, n in clips], RATE_MHZ)
        self.arm_firmware = arm_firmware
        start_epoch_s = int(start.astimezone().timestamp()) if start else 0
        behind_s = int(datetime.datetime.now().timestamp()) - start_epoch_s if start else 0
        start = start or datetime.datetime.now()
        self.switched_on = start  # local time, naive
        self.config = {
            "board": BOARD, "rate_mhz": RATE_MHZ, "speed": speed, "start_epoch_s": start_epoch_s,
            "start_s": start.hour * 3600 + start.minute * 60 + start.second,
            "power_cut_every_min": power_cut_every_min, "late": late, "imu_silent_s": imu_silent_s,
            "clips": [p for p, _ in clips], "fidget": fidget_path, "plan": self.plan,
            "wake_s": WAKE_S, "sleep_s": SLEEP_S, "device_id": device_id,
            "imu_address": PROFILE["imu_address"], "battery_adc": battery_adc(PROFILE["battery"]),
            "behind_s": behind_s, "hold_s": FLASH_HOLD_S if behind_s else 0,
            "flash": flash or os.path.join(workdir, "flash.img" if engine == "micropython" else "flash"),
        }
        self.engine = engine
        self.events = queue.Queue()
        self.process = None

    def start(self):
        config_path = os.path.join(self.workdir, "board.json")
        with open(config_path, "w") as f:
            json.dump(self.config, f)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # a USB CDC port: no echo, no line editing, bytes as sent
        self.pty_path = os.ttyname(self.slave)
        if self.arm_firmware:
            command, env = arm_command(self.arm_firmware, self.workdir, self.config), None
        else:
            command, env = board_command(self.engine, config_path)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env, bufsize=0)
        self.threads = [threading.Thread(target=target, daemon=True)
                        for target in (self._to_board, self._from_board, self._reports)]
        for thread in self.threads:
            thread.start()

    def _to_board(self):
        while self.process.poll() is None:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                    self.process.stdin.write(data)
                except (OSError, BrokenPipeError):
                    return

    def _from_board(self):
        while True:
            data = os.read(self.process.stdout.fileno(), 4096)
            if not data:
                return
            os.write(self.master, data)

    def _reports(self):
        for line in iter(self.process.stderr.readline, b""):
            text = line.decode(errors="replace").rstrip()
            try:
                event = json.loads(text)
            except ValueError:
                event = {"event": "output", "text": text}
            self.events.put(event)
        self.events.put({"event": "exited", "status": self.process.wait()})

    def worn_clock(self):
        """The host's clock as an emulated board worn from the past keeps it while held (its 'worn' report): the
        clock `walkdose flash` must set on it. Waits for that report."""
        if not hasattr(self, "worn"):
            self.worn = self.wait_for("worn", 60)
        return time.time() - self.worn["lag_us"] / 1e6

    def wait_for(self, kind, timeout_s, on_event=None):
        """Events until one of `kind` (returned); UserError if the board exits or time runs out first."""
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout_s)
        while True:
            left = (deadline - datetime.datetime.now()).total_seconds()
            try:
                event = self.events.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise UserError(f"the simulated board did not report '{kind}' within {timeout_s:.0f} s") from None
            if on_event:
                on_event(event)
            if event["event"] == kind:
                return event
            if event["event"] == "exited":
                raise UserError(f"the simulated board stopped (exit {event['status']}) before '{kind}'")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: the board saves its flash image and exits
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for thread in getattr(self, "threads", ()):
            thread.join(timeout=5)  # they end with the board's process; then their fds may close
        for name in ("master", "slave"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def describe(event, start):
    """One human line per board report, or None for the quiet ones."""
    kind = event["event"]
    if "sim_s" in event:
        at = start + datetime.timedelta(seconds=event["sim_s"])
        stamp = at.strftime("%Y-%m-%d %H:%M")
    else:
        stamp = ""
    if kind == "boot" and "boot_id" in event:
        return f"{stamp}  board booted (boot {event['boot']}, store boot id {event['boot_id']})"
    if kind == "boot":
        return f"{stamp}  board booted (boot {event['boot']})"
    if kind == "progress" and "loop_instructions" in event:
        return (f"{stamp}  simulated hour: {event['loop_instructions'] / 1e6:,.0f} M guest instructions in the "
                f"firmware's main loop, {event['bus_instructions'] / 1e6:,.0f} M on the fake I2C bus, "
                f"{event['world_instructions'] / 1e6:,.0f} M in the simulated world"
                + ("" if event["caught_up"] else " (running ahead of this computer's clock)"))
    if kind == "power_cut":
        return f"{stamp}  power cut: RAM and clock lost, flash keeps what was written"
    if kind == "late":
        return f"{stamp}  main loop {event['late_ms']} ms late"
    if kind == "caught_up":
        return (f"{stamp}  caught up with this computer's clock; running in real time now: safe to sync "
                "(before this, a sync would set the board's clock while its days lie ahead of it)")
    if kind == "progress" and event["sim_s"] % (6 * 3600) == 0:
        return f"{stamp}  simulated"
    if kind == "output":
        return f"board: {event['text']}"
    if kind == "failed":
        return f"the board failed: {event['error']}"
    if kind == "stopped":
        return f"{stamp}  board stopped, flash saved"
    if kind == "exited" and event["status"]:
        return f"the board's process exited with status {event['status']}"
    return None


def add_board_options(parser):
    parser.add_argument("--engine", choices=("micropython", "python"), default="micropython",
                        help="interpreter for the firmware (default: the real MicroPython unix port)")
    parser.add_argument("--power-cut-every", type=int, default=0, metavar="MINUTES",
                        help="cut the power every MINUTES of simulated time (the board reboots without its clock)")


def configure(parser):
    parser.add_argument("--recording", action="append", metavar="FILE[@HH:MM][xN]",
                        help="a t,x,y,z CSV the wearer walks every day, at HH:MM (default: 07:30, 12:15, "
                             "17:45, 20:30 in order), N times back to back (default: about 25 min); repeatable "
                             "(default: the shipped walks, each twice a day)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--days", type=argtypes.whole(0),
                      help="simulate the N days before today, then today so far (default 3)")
    when.add_argument("--start", metavar="YYYY-MM-DD", help="simulate from local midnight of this day until now")
    parser.add_argument("--speed", type=float, default=0.0,
                        help="times real time until the board reaches this computer's clock (default: as fast as it can)")
    parser.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the board's pty")
    parser.add_argument("--flash", metavar="FILE", help="keep the board's flash in FILE between runs")
    parser.add_argument("--late", metavar="EVERY_MIN:LATE_MS", type=_pair(":"),
                        help="every EVERY_MIN simulated minutes the main loop wakes LATE_MS late (FIFO overflow)")
    parser.add_argument("--imu-silent", metavar="FROM_MIN-TO_MIN", type=_pair("-"),
                        help="the IMU stops answering from FROM_MIN to TO_MIN minutes after the start")
    parser.add_argument("--arm", metavar="SOURCE",
                        help="run the board on an emulated Cortex-M4F (QEMU mps2-an386), MicroPython built from SOURCE "
                             "as by `walkdose qemu SOURCE`: bare until `walkdose flash --port`, then worn in step with "
                             "this computer's clock (default: the MicroPython unix port, already flashed)")
    add_board_options(parser)


def shipped_recordings():
    """The walks that ship with walkdose (recordings/)."""
    return recording.find_recordings([str(importlib.resources.files("walkdose.recordings"))])


def default_wear():
    """A wearer nobody described: the shipped walks, each twice a day, four walks at the default times."""
    return shipped_recordings() * 2


def _pair(separator):
    def parse(text):
        parts = text.split(separator)
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise argparse.ArgumentTypeError(f"{text!r}: expected two whole numbers separated by '{separator}'")
        return [int(p) for p in parts]
    return parse


def _interrupt(signum, frame):
    raise KeyboardInterrupt


ARM_REFUSES = ("days", "start", "speed", "flash", "late", "imu_silent", "power_cut_every")


def run(args):
    given = [name for name in ARM_REFUSES if getattr(args, name)]
    if args.arm and given:
        raise UserError(f"--arm: the emulated board is worn from its flash on, in step with this computer's clock; "
                        f"--{given[0].replace('_', '-')} does not apply to it")
    start = None if args.arm else start_day(3 if args.days is None else args.days, args.start)
    if args.link and os.path.lexists(args.link) and not os.path.islink(args.link):
        raise UserError(f"--link {args.link}: exists and is not a symlink; give a new path (nothing was changed)")
    for hang_up in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(hang_up, _interrupt)  # clean up as on Ctrl-C: the board saves its flash, the temp folder goes
    with tempfile.TemporaryDirectory(prefix="walkdose-sim-") as workdir:
        silent = [m * 60 for m in args.imu_silent] if args.imu_silent else None
        sim = Simulator(args.recording or default_wear(), workdir, start, power_cut_every_min=args.power_cut_every,
                        speed=args.speed, flash=args.flash, engine=args.engine, late=args.late,
                        imu_silent_s=silent, arm_firmware=qemu.build(args.arm) if args.arm else None)
        start = sim.switched_on
        with sim:
            if args.link:
                if os.path.lexists(args.link):
                    os.remove(args.link)
                os.symlink(sim.pty_path, args.link)
            port = args.link or sim.pty_path
            if args.arm:
                print(f"walkdose sim: an emulated Cortex-M4F board on {sim.pty_path}"
                      + (f" (also {args.link})" if args.link else "") + ", bare MicroPython; Ctrl-C stops", flush=True)
                print(f"walkdose sim: flash it: walkdose flash --board {BOARD} --port {port}; it is worn from then "
                      f"on; sync whenever: walkdose sync --port {port}", flush=True)
            else:
                print(f"walkdose sim: board on {sim.pty_path}" + (f" (also {args.link})" if args.link else "")
                      + f"; simulating from {start:%Y-%m-%d %H:%M}; Ctrl-C stops", flush=True)
                print(f"walkdose sim: when it says it is safe to sync: walkdose sync --port {port}", flush=True)

            def show(event):
                line = describe(event, start)
                if line:
                    print(line, flush=True)
            try:
                exited = sim.wait_for("exited", timeout_s=10 ** 9, on_event=show)
            except KeyboardInterrupt:
                sim.stop()  # the board saves its flash and reports where it stopped
                exited = sim.wait_for("exited", timeout_s=30, on_event=show)
            finally:
                if args.link and os.path.islink(args.link):
                    os.remove(args.link)
    return 1 if exited["status"] else 0
