"""The firmware on an emulated Cortex-M4F: build MicroPython's ports/qemu for QEMU's mps2-an386 from a source tree
(once, cached) with walkdose's board definition (host/qemu_board: it boots /rom/boot.py, then main.py), then boot
it with a ROM filesystem of host files at /rom and run code over its UART's raw REPL. Under `-icount shift=0`
guest time counts instructions: one virtual nanosecond each. Knows no detector or store.

    walkdose qemu SOURCE     # SOURCE: a MicroPython checkout (tag v1.28.0) or a tarball of one
"""
import contextlib
import hashlib
import io
import os
import select
import shutil
import subprocess
import tarfile
import tempfile
import time

import platformdirs

from .errors import UserError

BOARD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qemu_board")
PACKAGES = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi", "qemu-system-arm": "qemu-system-arm"}
# What the port's build reads of a source tree: hashed for the cache key of a checkout.
SOURCE_PARTS = ("py", "extmod", "shared", "tools", "ports/qemu", "lib/littlefs", "lib/libm", "lib/uzlib", "lib/re1.5")
QEMU = ["qemu-system-arm", "-machine", "mps2-an386", "-display", "none", "-monitor", "none", "-serial", "stdio",
        "-semihosting", "-icount", "shift=0"]
ROM_ADDR = 0x21000000  # WALKDOSE_ROM_ADDR and _BYTES in qemu_board/mpconfigboard.mk, where the board mounts it
ROM_BYTES = 0x00f00000
RAW_REPL = b"raw REPL; CTRL-B to exit\r\n>"


class GuestError(RuntimeError):
    """The guest raised: the message is its traceback."""


def missing_tools():
    """The Debian packages to install for the build and the emulator, or None when all are on PATH."""
    missing = [package for tool, package in PACKAGES.items() if shutil.which(tool) is None]
    return " ".join(missing) or None


def cache_key(source):
    """Source (a tarball's bytes or a checkout's SOURCE_PARTS) and board definition, hashed."""
    digest = hashlib.sha256()
    if os.path.isfile(source):
        files = [("", source)]
    else:
        files = sorted((os.path.relpath(os.path.join(folder, name), source), os.path.join(folder, name))
                       for part in SOURCE_PARTS for folder, _, names in os.walk(os.path.join(source, part))
                       for name in names)
    files += [("board/" + name, os.path.join(BOARD_DIR, name)) for name in sorted(os.listdir(BOARD_DIR))]
    for name, path in files:
        digest.update(name.encode())
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def build(source, cache_root=None):
    """The firmware.elf of the emulated board, built from `source` (a MicroPython tree or a tarball of one) unless
    the cache holds it. Builds in a temporary folder and moves the result in, so concurrent builds cannot clash."""
    if not os.path.exists(source):
        raise UserError(f"{source}: no such MicroPython source tree or tarball")
    missing = missing_tools()
    if missing:
        raise UserError(f"the ARM toolchain or QEMU is missing: apt-get install {missing}")
    cache_root = cache_root or os.path.join(platformdirs.user_cache_dir("walkdose"), "qemu")
    done = os.path.join(cache_root, cache_key(source))
    firmware = os.path.join(done, "firmware.elf")
    if os.path.exists(firmware):
        return firmware
    os.makedirs(cache_root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root, prefix="building-") as work:
        tree = source
        if os.path.isfile(source):
            tree = os.path.join(work, "micropython")
            with tarfile.open(source) as tar:
                tar.extractall(tree, filter="data")
        if not os.path.isdir(os.path.join(tree, "ports", "qemu")):
            raise UserError(f"{source}: no ports/qemu in it; give a MicroPython source tree (tag v1.28.0)")
        # FROZEN_MANIFEST= : the port's default freezes tests that want micropython-lib.
        command = ["make", "-C", os.path.join(tree, "ports", "qemu"), f"-j{os.cpu_count() or 1}",
                   f"BOARD_DIR={BOARD_DIR}", f"BUILD={os.path.join(work, 'build')}", "FROZEN_MANIFEST="]
        made = subprocess.run(command, capture_output=True, text=True)
        if made.returncode != 0:
            raise UserError(f"building MicroPython's qemu port failed: {' '.join(command)}\n{made.stderr[-3000:]}")
        out = os.path.join(work, "out")
        os.makedirs(out)
        shutil.copy(os.path.join(work, "build", "firmware.elf"), out)
        try:
            os.rename(out, done)
        except OSError:
            if not os.path.exists(firmware):  # else another build finished first: same inputs, same result
                raise
    return firmware


def rom_image(folder):
    """A MicroPython ROM filesystem (VfsRom) holding the files below `folder`, as mpremote's `romfs build` makes it."""
    from mpremote.romfs import make_romfs

    with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints a tree of what it packs
        return make_romfs(folder, mpy_cross=False)


def write_rom(folder, path):
    """The ROM filesystem of `folder` in the file `path`, for command()."""
    rom = rom_image(folder)
    if len(rom) > ROM_BYTES:
        raise UserError(f"{folder}: {len(rom)} bytes, more than the emulated board's {ROM_BYTES} bytes of ROM")
    with open(path, "wb") as f:
        f.write(rom)


def command(firmware, rom_path):
    """QEMU running `firmware` with the ROM filesystem in rom_path, its UART on stdin and stdout."""
    return QEMU + ["-kernel", firmware, "-device", f"loader,file={rom_path},addr={ROM_ADDR:#x},force-raw=on"]


def stage(folder, files=None, board="xiao-nrf52840-sense"):
    """Fill `folder` for a ROM filesystem: firmware/ exactly as `walkdose flash --board` builds it (.mpy files for
    the board's -march), and `files` ({path in the folder: local path}), e.g. the simulator's drivers."""
    from . import commands, flash

    flash.Plan(board, "-", folder, commands.find("mpy-cross"), "mpremote").build(flash.firmware_version())
    for name, local in (files or {}).items():
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        shutil.copy(local, os.path.join(folder, name))


def script(path, args):
    """Guest code that runs the file `path` as __main__ with sys.argv = [path] + args, as `micropython path args`."""
    return (f"sys.argv[:] = {[path] + [str(a) for a in args]!r}\n"
            f"exec(open({path!r}).read(), {{'__name__': '__main__', '__file__': {path!r}}})\n")


class Board:
    """One emulated board: QEMU running `firmware` with the files below `rom_folder` at /rom (on sys.path), driven
    over the raw REPL. Memory of the guest persists between run() calls, as on a board between REPL commands."""

    def __init__(self, firmware, rom_folder, timeout_s=60):
        self._image = tempfile.NamedTemporaryFile(suffix=".romfs")
        write_rom(rom_folder, self._image.name)
        self._process = subprocess.Popen(command(firmware, self._image.name),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._pending = b""
        try:
            self._write(b"\r\x03\x03\x01")  # stop anything running, then enter the raw REPL
            self._read_until(RAW_REPL, timeout_s)
        except BaseException:
            self.close()
            raise

    def run(self, code, timeout_s=600):
        """Execute `code` (Python source) on the guest; what it printed. GuestError if it raised."""
        self._write(code.encode() + b"\x04")
        self._read_until(b"OK", timeout_s)
        out = self._read_until(b"\x04", timeout_s)
        err = self._read_until(b"\x04>", timeout_s)
        if err:
            raise GuestError(err.decode(errors="replace"))
        return out.decode(errors="replace").replace("\r\n", "\n")

    def instructions(self, code, timeout_s=600):
        """(what `code` printed, guest instructions it took): microseconds of virtual time x 1,000."""
        text = self.run(f"import time\n_t0 = time.ticks_us()\n{code}\n"
                        f"print(time.ticks_diff(time.ticks_us(), _t0))\n", timeout_s)
        head, _, last = text.rstrip("\n").rpartition("\n")
        return (head + "\n" if head else ""), int(last) * 1000

    def close(self):
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            stream.close()
        self._image.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, data):
        self._process.stdin.write(data)
        self._process.stdin.flush()

    def _read_until(self, marker, timeout_s):
        """Bytes from the UART up to `marker` (dropped); GuestError if QEMU exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        fd = self._process.stdout.fileno()
        while marker not in self._pending:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                why = "timed out" if left <= 0 or not ready else "exited: " + self._process.stderr.read().decode()
                raise GuestError(f"QEMU {why} waiting for {marker!r}; the UART said: "
                                 f"{self._pending[-2000:].decode(errors='replace')}")
            self._pending += chunk
        out, _, self._pending = self._pending.partition(marker)
        return out


# ---- walkdose qemu -----------------------------------------------------------------------------------

def configure(parser):
    parser.add_argument("source", help="a MicroPython source tree (git clone --branch v1.28.0 "
                                       "https://github.com/micropython/micropython) or a tarball of one")
    parser.add_argument("--cache", help="folder for the built firmware (default: walkdose's user cache folder)")


def run(args):
    began = time.monotonic()
    firmware = build(args.source, args.cache)
    print(f"firmware: {firmware} ({time.monotonic() - began:.0f} s)")
    print(f"its REPL: qemu-system-arm -machine mps2-an386 -nographic -semihosting -kernel {firmware}  "
          f"(machine.reset() or Ctrl-A X quits)")
    return 0
