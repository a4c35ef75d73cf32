"""`walkdose flash`: firmware onto a board in one command. Precompile the firmware with mpy-cross for the
board's architecture, copy it with mpremote, start it, set its clock and check that it answers the sync
protocol. `--dry-run` prints every step and touches
no port.

Never opens a port at 1200 baud (that asks an Arduino-style board to reboot into its bootloader), and
never touches the board's /walkdose folder, where the day store keeps the days not yet synced.
"""
import contextlib
import importlib.metadata
import os
import shutil
import subprocess
import tempfile
import time

from . import commands, localtime, ports
from .errors import UserError
from .firmware import boards

FIRMWARE_DIR = os.path.dirname(boards.__file__)
ENTRY = "main.py"  # copied as source: MicroPython runs /main.py, not an .mpy
BAUD = 115200  # what the M5StickC Plus2's USB-UART bridge runs at; USB CDC boards ignore it
PORT_BACK_S = 15.0  # a board re-enumerates on USB after its reset
PORT_POLL_S = 0.25
# Removes /firmware before the copy: a stale .py left there would shadow the new .mpy of the same name.
WIPE_FIRMWARE = ('import os\n'
                 'def rm(p):\n'
                 ' for n in os.listdir(p):\n'
                 '  q = p + "/" + n\n'
                 '  if os.stat(q)[0] & 0x4000: rm(q)\n'
                 '  else: os.remove(q)\n'
                 ' os.rmdir(p)\n'
                 'if "firmware" in os.listdir("/"): rm("/firmware")\n')


def firmware_version():
    try:
        return importlib.metadata.version("walkdose")
    except importlib.metadata.PackageNotFoundError:
        return "0+checkout"


def board_modules(profile):
    """Firmware modules a board holds: every module in firmware/ except the entry and other chips' drivers."""
    names = []
    for name in sorted(os.listdir(FIRMWARE_DIR)):
        if not name.endswith(".py") or name == ENTRY:
            continue
        if name.startswith("imu_") and name != profile["imu_module"] + ".py":
            continue
        names.append(name)
    return names


class Plan:
    """The steps of one flash, as (description, command or None) in order, and the files they copy."""

    def __init__(self, name, port, build_dir, mpy_cross, mpremote):
        profile = boards.profile_named(name)
        self.name = name
        self.profile = profile
        self.port = port
        self.build_dir = build_dir
        self.package_dir = os.path.join(build_dir, "firmware")
        self.compile = []  # (source, target) per module
        for module in board_modules(profile):
            target = os.path.join(self.package_dir, module[:-3] + ".mpy")
            self.compile.append((os.path.join(FIRMWARE_DIR, module),
                                 [mpy_cross, "-march=" + profile["march"], "-o", target,
                                  os.path.join(FIRMWARE_DIR, module)]))
        self.data_files = [profile["imu_config"]] if profile["imu_config"] else []
        self.board_file = os.path.join(build_dir, boards.BOARD_FILE)
        connect = [mpremote, "connect", port]
        self.copy = [
            ("remove the previous /firmware (the day store in /walkdose stays)", connect + ["exec", WIPE_FIRMWARE]),
            ("copy the firmware package to /firmware", connect + ["fs", "cp", "-r", self.package_dir, ":"]),
            ("copy the board entry to /main.py", connect + ["fs", "cp", os.path.join(FIRMWARE_DIR, ENTRY), ":" + ENTRY]),
            ("copy the board name and version to /" + boards.BOARD_FILE,
             connect + ["fs", "cp", self.board_file, ":" + boards.BOARD_FILE]),
            ("reset the board: main.py starts counting", connect + ["reset"]),
        ]

    def build(self, version):
        """Compile every module and place the data files and the board file in build_dir."""
        os.makedirs(self.package_dir, exist_ok=True)
        for source, command in self.compile:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise UserError(f"mpy-cross failed on {source} for -march={self.profile['march']}: "
                                f"{done.stderr.strip()}")
        for name in self.data_files:
            shutil.copy(os.path.join(FIRMWARE_DIR, name), os.path.join(self.package_dir, name))
        with open(self.board_file, "w") as f:
            f.write(f"{self.name} {version}\n")

    def files(self):
        """(path on the board, local path) of everything copied, in copy order."""
        out = [("/firmware/" + n, os.path.join(self.package_dir, n)) for n in sorted(os.listdir(self.package_dir))]
        out.append(("/" + ENTRY, os.path.join(FIRMWARE_DIR, ENTRY)))
        out.append(("/" + boards.BOARD_FILE, self.board_file))
        return out


def quoted(command):
    return " ".join(_quote(word) for word in command)


def _quote(word):
    if word and all(c.isalnum() or c in "-_./:=+,@" for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def build_folder(keep):
    """Where the compiled files go: kept after a dry run, whose printed commands name them; else removed."""
    if keep:
        return contextlib.nullcontext(tempfile.mkdtemp(prefix="walkdose-flash-"))
    return tempfile.TemporaryDirectory(prefix="walkdose-flash-")


def open_port(port):
    """The board's serial port, opened once it is back after a reset; DTR and RTS stay low so that an
    ESP32's auto-reset circuit does not reset the board again."""
    import serial

    deadline = time.monotonic() + PORT_BACK_S
    while True:
        try:
            link = serial.Serial()
            link.port = port
            link.baudrate = BAUD
            link.timeout = 0.2
            link.dtr = False
            link.rts = False
            link.open()
            return link
        except (serial.SerialException, OSError) as exc:
            if time.monotonic() > deadline:
                raise UserError(f"{port}: did not come back {PORT_BACK_S:g} s after the reset ({exc}); "
                                f"unplug and replug the board, then run `walkdose flash` again")
            time.sleep(PORT_POLL_S)


def set_clock_and_check(port, name, version):
    """Set the board's clock and read its info over the sync protocol; the info dict."""
    from .protocol import Client, NoAnswer

    with open_port(port) as link:
        client = Client(link)
        try:
            epoch_s = int(time.time())
            client.set_time(epoch_s, *localtime.local_offsets(epoch_s))
            info = client.info()
        except NoAnswer:
            raise UserError(f"{port}: the board does not answer the sync protocol after the copy; "
                            f"open a REPL (mpremote connect {port}) to read its error")
    if info["board"] != name or info["firmware"] != version:
        raise UserError(f"{port}: the board reports {info['board']} {info['firmware']}, expected {name} {version}")
    return info


# ---- walkdose flash --------------------------------------------------------------------------------

def configure(parser):
    parser.add_argument("--board", required=True, help="profile name (see `walkdose boards`)")
    parser.add_argument("--port", help="the board's serial port, e.g. /dev/ttyACM0 or COM5 (default: the one port "
                                       "with the board's USB id)")
    parser.add_argument("--dry-run", action="store_true",
                        help="compile and print every step with its command and files; touch no port")


def run(args):
    if args.board not in boards.PROFILES:
        raise UserError(f"--board {args.board}: unknown; choose one of {', '.join(sorted(boards.PROFILES))}")
    mpy_cross = commands.find("mpy-cross")
    if args.dry_run:
        mpremote = shutil.which("mpremote") or "mpremote"
        port = args.port or "PORT"
    else:
        mpremote = commands.find("mpremote")
        port = args.port or ports.find(args.board)
        if not ports.exists(port):
            raise UserError(f"--port {port}: no such serial port; plug the board in and check "
                            f"`python -m serial.tools.list_ports`")
    version = firmware_version()
    with build_folder(keep=args.dry_run) as build_dir:
        plan = Plan(args.board, port, build_dir, mpy_cross, mpremote)
        say = print if args.dry_run else (lambda text: print(text, flush=True))
        say(f"walkdose flash: {plan.profile['title']} ({args.board}) on {port}, firmware {version}"
            + (f" (dry run: no port is touched; files kept in {build_dir})" if args.dry_run else ""))
        say(f"1. compile {len(plan.compile)} modules with mpy-cross -march={plan.profile['march']}")
        plan.build(version)
        for _, command in plan.compile:
            say("   " + quoted(command))
        say("   files:")
        for board_path, local in plan.files():
            say(f"   {os.path.getsize(local):8d} B  {board_path}")
        ids = None if args.dry_run else ports.usb_ids(port)
        if ids is not None and ids not in plan.profile["usb"]:
            say(f"   note: {port} is USB {ids[0]:04x}:{ids[1]:04x}, not the "
                f"{', '.join(f'{v:04x}:{p:04x}' for v, p in plan.profile['usb'])} of "
                f"{plan.profile['micropython_board']}; carrying on")
        for i, (description, command) in enumerate(plan.copy, 2):
            say(f"{i}. {description}")
            say("   " + quoted(command))
            if not args.dry_run:
                done = subprocess.run(command)
                if done.returncode != 0:
                    raise UserError(f"{port}: mpremote failed (exit {done.returncode}) at: {description}")
        step = len(plan.copy) + 2
        say(f"{step}. set the clock to this computer's time and offset, then check the board's answer "
            f"(sync protocol at {BAUD} baud: set time, info)")
        if args.dry_run:
            return 0
        info = set_clock_and_check(port, args.board, version)
    battery = f", battery {info['battery_mv']} mV" if info["battery_mv"] >= 0 else ""
    print(f"walkdose flash: {args.board} {info['device_id']} counting (boot {info['boot_id']}{battery})")
    return 0
