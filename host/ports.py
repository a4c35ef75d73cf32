"""Finding a board's serial port: the USB VID:PIDs of the board profiles (firmware/boards.py) against the ports
the system lists (pyserial's list_ports). Nothing here opens a port."""
import os

from serial.tools import list_ports

from .errors import UserError
from .firmware import boards


def exists(port):
    """Whether port names a serial device the system has (a path, or a name such as COM3)."""
    return os.path.exists(port) or any(p.device == port for p in list_ports.comports())


def usb_ids(port):
    """(vid, pid) of a USB serial port, or None (not USB, or not listed)."""
    for p in list_ports.comports():
        if p.device == port or os.path.realpath(p.device) == os.path.realpath(port):
            return (p.vid, p.pid) if p.vid is not None else None
    return None


def find(board=None):
    """The one listed port whose USB id is a profile's (`board`'s only, if given). Several or none: a UserError
    that says what was found and to name one with --port."""
    wanted = {ids: name for name, p in boards.PROFILES.items() if board in (None, name) for ids in p["usb"]}
    found = [(p.device, wanted[(p.vid, p.pid)]) for p in list_ports.comports() if (p.vid, p.pid) in wanted]
    if len(found) == 1:
        return found[0][0]
    which = f"the {boards.PROFILES[board]['title']}" if board else "a supported board"
    if not found:
        raise UserError(f"no serial port of {which} found: plug it in (a data cable, not a charge-only one), "
                        "or name it with --port (list: python -m serial.tools.list_ports)")
    raise UserError(f"several ports of {which}: {', '.join(f'{d} ({n})' for d, n in found)}; "
                    "choose one with --port")
