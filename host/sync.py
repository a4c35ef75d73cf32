"""`walkdose sync`: pull every day a board has not handed over yet into the local database, set its clock,
and acknowledge each day only after it is stored. Never opens a port at 1200 baud (that rate reboots
nRF52840 and RP2040 boards into their bootloader) and never acknowledges what is not committed."""
import contextlib
import errno
import sys
import time

import serial

from . import db, localtime, plan, ports
from .errors import UserError
from .firmware import link as wire
from .firmware.clock import civil_from_days
from .firmware.store import FLAG_SEGMENT
from .protocol import STORE_REPORT_KEYS, Client, ErrorStatus, NoAnswer, ProtocolError

BAUDRATE = 115200  # USB CDC ignores the rate; any but 1200 is safe
BOOTLOADER_BAUDRATE = 1200
READ_TIMEOUT_S = 0.05  # one port read; the client's response timeout bounds the wait
WRITE_TIMEOUT_S = 5.0


def configure(parser):
    parser.add_argument("--port",
                        help="the board's serial port (/dev/ttyACM0, COM3), a pty path, or a pyserial URL "
                             "(socket://HOST:PORT, loop://); default: the one port with a supported board's USB id")
    parser.add_argument("--db", help="SQLite database file (default: $WALKDOSE_DB, else the user data folder)")
    parser.add_argument("--target", type=int,
                        help="daily walking target in minutes the board cues (default: today's target of "
                             f"`walkdose plan`, else {wire.DEFAULT_TARGET_MIN})")


def run(args):
    if args.target is not None and not 1 <= args.target <= wire.MAX_TARGET_MIN:
        raise UserError(f"--target {args.target}: a daily walking target is 1..{wire.MAX_TARGET_MIN} minutes")
    print(sync_port(args.port or ports.find(), args.db, args.target))
    return 0


def sync_port(port_name, db_path=None, target_min=None):
    """sync_device() with the board on port_name into the database at db_path (None: the default one), cueing
    target_min or else today's planned target; its summary."""
    with db.opened(db_path) as conn:  # a bad --db fails before the port is touched
        target_min = target_min or planned_target(conn)
        with contextlib.closing(open_port(port_name)) as port:
            return sync_device(Client(port), conn, port_name, target_min)


def planned_target(conn):
    """Today's target of `walkdose plan` (its goal until the baseline week is over), capped for the wire."""
    zone = localtime.local_zone()
    today = localtime.local_date(time.time(), zone)
    return min(wire.MAX_TARGET_MIN, plan.targets(conn, zone, today)(today)[0])


def open_port(url, baudrate=BAUDRATE):
    """A pyserial port for a device path, pty path or URL; never at the bootloader rate."""
    if baudrate == BOOTLOADER_BAUDRATE:
        raise UserError(f"{url}: refusing to open at {BOOTLOADER_BAUDRATE} baud, the rate that reboots "
                        "nRF52840 and RP2040 boards into their bootloader")
    try:
        # exclusive: a second sync on the port would take acks meant for this one's database
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT_S,
                                     write_timeout=WRITE_TIMEOUT_S, exclusive=True)
    except (serial.SerialException, ValueError, OSError) as exc:
        if getattr(exc, "errno", None) in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise UserError(f"port busy: another program (another walkdose sync, mpremote, a serial monitor) "
                            f"has {url} open; close it and sync again") from None
        raise UserError(f"cannot open {url}: {exc}. Check the board is plugged in and the path "
                        "(ls /dev/ttyACM* /dev/cu.usbmodem*, or COMn on Windows)") from None
    port.reset_input_buffer()  # whatever the board printed before this sync is not an answer
    return port


def acknowledge_stored(client, conn, device_id):
    """Ack the highest seq the database holds of the device before listing (docs/protocol.md, 'A sync'),
    so a device whose flash rolled back learns of it and counts the loss in its losses answer. Firmware
    before this step refuses a seq it never gave (error 4): that seq then, for the summary, else 0."""
    highest = db.highest_seq(conn, device_id)
    if not highest:
        return 0
    try:
        client.ack(highest)
    except ErrorStatus as exc:
        if exc.status != wire.ERR_BAD_VALUE:
            raise
        return highest
    return 0


def describe(key, flags):
    if flags & FLAG_SEGMENT:
        return f"unknown-time segment (boot {key >> 8}, part {key & 0xFF})"
    return "day %04d-%02d-%02d" % civil_from_days(key)


def progress(message):
    print(f"walkdose: {message}", file=sys.stderr, flush=True)


def sync_device(client, conn, port_name, target_min=wire.DEFAULT_TARGET_MIN, now=time.time, say=progress):
    """Handshake, ack what the database holds, set the clock, store and acknowledge every unacknowledged
    record, keep the losses and the IMU's counters of this boot; returns the summary: one line, and a second
    when the IMU lost samples this boot. Each record is committed before its ack is sent."""
    try:
        info = client.info()
    except NoAnswer:
        waited_s = client.attempts * client.response_timeout_s
        raise UserError(f"no walkdose device answered on {port_name} within {waited_s:g} s: check that the "
                        "board is plugged in with a data cable, that it runs the walkdose firmware (not "
                        "the bare REPL), and that no other program (mpremote, a serial monitor) has the "
                        "port open") from None
    except (serial.SerialException, OSError) as exc:
        raise UserError(f"lost the connection to {port_name} during the handshake ({exc}); nothing has "
                        "changed: run walkdose sync again") from None
    except ProtocolError as exc:
        raise UserError(f"the device on {port_name} answered the handshake wrongly: {exc}") from None
    info_epoch_s = int(now())
    device_id = info["device_id"]
    battery = f"{info['battery_mv'] / 1000:.2f} V" if info["battery_mv"] >= 0 else "battery unknown"
    say(f"device {device_id} ({info['board']}, firmware {info['firmware']}, {battery}) on {port_name}")
    stored = 0
    records = []
    rolled_back = 0
    try:
        db.save_device(conn, info, info_epoch_s)
        # The ack first: a rollback it reveals renumbers the open segment before setting the clock closes it.
        rolled_back = acknowledge_stored(client, conn, device_id)
        epoch_s = int(now())
        offset_s, change_epoch_s, next_offset_s = localtime.local_offsets(epoch_s)
        client.set_time(epoch_s, offset_s, change_epoch_s, next_offset_s, target_min)
        records = client.list()
        say(f"{len(records)} record(s) to fetch")
        for number, (seq, key, flags) in enumerate(records, 1):
            data = client.fetch(seq)
            if data:
                db.save_record(conn, device_id, seq, data, info["boot_id"], info["uptime_s"], info_epoch_s)
                stored += 1
            client.ack(seq)
            say(f"[{number}/{len(records)}] {describe(key, flags)}: "
                + (f"{len(data)} bytes stored" if data else "no longer on the device (counted as lost)"))
        losses = client.losses()
        db.save_losses(conn, device_id, {key: losses[key] for key in STORE_REPORT_KEYS}, int(now()))
        if losses["boot_id"] != info["boot_id"]:  # a rollback seen at the ack gave this boot a new id
            db.save_device(conn, {**info, "boot_id": losses["boot_id"]}, info_epoch_s)
        sensor = client.sensor()  # None: the firmware predates the command
        if sensor is not None:
            db.save_sensor(conn, device_id, sensor, int(now()))
    except (serial.SerialException, OSError) as exc:
        raise UserError(f"lost the connection to {port_name} after {stored} of {len(records)} records ({exc}); "
                        "everything stored so far is kept: run walkdose sync again to fetch the rest") from None
    except ProtocolError as exc:
        raise UserError(f"the device on {port_name} answered wrongly: {exc}; run walkdose sync again, and "
                        "if it repeats, update walkdose and the board's firmware together") from None
    except ValueError as exc:  # the database refused a record (db.save_record names it)
        raise UserError(f"device {device_id}: {exc}") from None
    if rolled_back:
        say(f"the device no longer knows seq {rolled_back}, which the database holds: its flash went back to an "
            "older state, and records made after the previous sync are lost")
    lost = losses["lost_detail"] + losses["lost_summary"]
    if lost or losses["quarantined"] or losses["failed_writes"]:
        say(f"the device reports {losses['lost_detail']} minute record(s) and {losses['lost_summary']} day "
            f"summary(ies) dropped when its store was full or its flash rolled back, {losses['quarantined']} damaged file(s), "
            f"{losses['failed_writes']} failed write(s)")
    segments = sum(1 for seq, key, flags in records if flags & FLAG_SEGMENT)
    if segments:
        say(f"{segments} record(s) were made before the board's clock was set; they are placed on the "
            "calendar from the board's uptime")
    summary = f"synced {stored} record(s) from {device_id} into the database"
    if sensor is not None and (sensor["overflows"] or sensor["faults"]):
        summary += (f"\nthe board's IMU lost samples this boot: {sensor['overflows']} FIFO overflow(s) and "
                    f"{sensor['faults']} failed IMU read(s); walking minutes around them may be undercounted")
    return summary
