"""The host database: synced device records in SQLite (schema in docs/db-schema.md), placed on the
calendar by placement.py, and the per-minute and per-local-day queries the report and export read.
Never decodes the on-flash format (firmware/store.py) nor decides what a day's numbers are (dayrules.py)."""
import collections
import contextlib
import datetime
import errno
import os
import sqlite3
import stat
import struct
import urllib.parse

import platformdirs

from . import dayrules, localtime, placement
from .errors import UserError
from .firmware import clock, store
from .firmware import link as wire

SCHEMA_VERSION = 1
APPLICATION_ID = 0x77616C6B  # 'walk': tells a walkdose database from any other SQLite file
DEFAULT_NAME = "walkdose.sqlite"

SCHEMA = """
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    board TEXT,
    firmware TEXT,
    battery_mv INTEGER,
    boot_id INTEGER,
    uptime_s INTEGER,
    clock_set INTEGER,
    synced_epoch_s INTEGER
);
CREATE TABLE boots (
    device_id TEXT NOT NULL,
    boot_id INTEGER NOT NULL,
    base_epoch_s INTEGER NOT NULL,
    placement TEXT NOT NULL CHECK (placement IN ('current_boot', 'anchored')),
    PRIMARY KEY (device_id, boot_id)
);
CREATE TABLE records (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    start_s INTEGER NOT NULL,
    anchor_uptime_s INTEGER,
    anchor_epoch_s INTEGER,
    steps INTEGER NOT NULL,
    walk_s INTEGER NOT NULL,
    slow_min INTEGER NOT NULL,
    moderate_min INTEGER NOT NULL,
    brisk_min INTEGER NOT NULL,
    bouts INTEGER NOT NULL,
    longest_bout_s INTEGER NOT NULL,
    worn_min INTEGER NOT NULL,
    recorded_min INTEGER NOT NULL,
    has_minutes INTEGER NOT NULL,
    start_epoch_s INTEGER,
    placement TEXT CHECK (placement IN ('clock', 'current_boot', 'anchored', 'estimated')),
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE minutes (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    walk_s INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    pace INTEGER NOT NULL,
    movement_code INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq, minute)
) WITHOUT ROWID;
CREATE TABLE losses (
    device_id TEXT PRIMARY KEY,
    epoch_s INTEGER NOT NULL,
    boot_id INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL,
    lost_detail INTEGER NOT NULL,
    lost_summary INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    failed_writes INTEGER NOT NULL
);
CREATE TABLE plan (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    goal_min INTEGER NOT NULL,
    step_min INTEGER NOT NULL,
    start_date TEXT
);
"""
# Tables added since without a change to any other: the schema version stays, a file that lacks one
# gets it when opened, and an older walkdose, which never reads it, still opens the file.
ADDED_TABLES = {
    "sensor_health": """
CREATE TABLE sensor_health (
    device_id TEXT NOT NULL,
    boot_id INTEGER NOT NULL,
    epoch_s INTEGER NOT NULL,
    uptime_s INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    overflows INTEGER NOT NULL,
    faults INTEGER NOT NULL,
    PRIMARY KEY (device_id, boot_id)
);
""",
    "plan_changes": """
CREATE TABLE plan_changes (
    from_date TEXT PRIMARY KEY,
    goal_min INTEGER NOT NULL,
    step_min INTEGER NOT NULL,
    start_date TEXT
);
""",
    "quarantine": """
CREATE TABLE quarantine (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    cause TEXT NOT NULL CHECK (cause IN ('values', 'overlap')),
    reason TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
""",
    "estimates": """
CREATE TABLE estimates (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    uncertainty_s INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
""",
}
ALWAYS = "0001-01-01"  # plan_changes.from_date of the settings in force before any recorded change
SCHEMA += "".join(ADDED_TABLES.values())


def default_path():
    """$WALKDOSE_DB, else walkdose.sqlite in the user's data folder."""
    return os.environ.get("WALKDOSE_DB") or os.path.join(platformdirs.user_data_dir("walkdose"), DEFAULT_NAME)


LOCK_WAIT_S = 5  # how long an open or a write waits for another walkdose's transaction (a sync) to end
# SQLite's primary result codes walkdose can explain to a user; any other error is a bug
_CAUSES = {
    sqlite3.SQLITE_BUSY: f"in use by another walkdose (a sync?) for more than {LOCK_WAIT_S} s; try again when it ends",
    sqlite3.SQLITE_LOCKED: f"in use by another walkdose (a sync?) for more than {LOCK_WAIT_S} s; try again when it ends",
    sqlite3.SQLITE_FULL: "the disk is full (or a file size limit is reached); free some space and try again",
    sqlite3.SQLITE_IOERR: "cannot write the file (disk full, a file size limit or a failing disk); free some space "
                          "and try again",
    sqlite3.SQLITE_READONLY: "no permission to write it or its folder (SQLite writes a journal beside it)",
    sqlite3.SQLITE_CANTOPEN: "no permission to open it or write its folder (SQLite writes a journal beside it)",
    sqlite3.SQLITE_PERM: "no permission to open it",
}


def open_db(path=None, readonly=False):
    """The database at path (None: default_path()), created with mode 0600 and the schema if new;
    readonly: opened read-only, never created nor changed. UserError if the path is a symlink or not a
    regular file, others may read it, it is missing (readonly), locked, or not a walkdose database."""
    path = path or default_path()
    status = _private_file(path)
    if readonly:
        if status is None:
            raise UserError(f"no database at {path}: `walkdose sync` fills one from a board (`walkdose demo` "
                            "shows one); choose another with --db or WALKDOSE_DB")
    else:
        _create_private(path)
    try:
        conn = sqlite3.connect("file:" + urllib.parse.quote(os.path.abspath(path)) + ("?mode=ro" if readonly else ""),
                               uri=True, timeout=LOCK_WAIT_S)
    except sqlite3.OperationalError as exc:
        raise user_error(path, exc) from None
    try:
        _check_or_create(conn, path, readonly)
        _refuse_shared(path)
    except sqlite3.OperationalError as exc:
        conn.close()
        raise user_error(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def opened(path=None, readonly=False):
    """open_db() for the length of a command, closed after; SQLite's locked, disk-full and permission
    errors, when opening or later, become one UserError naming the file."""
    path = path or default_path()
    try:
        with contextlib.closing(open_db(path, readonly)) as conn:
            yield conn
    except sqlite3.OperationalError as exc:
        raise user_error(path, exc) from None


def user_error(path, exc):
    """exc as a UserError naming path, or exc itself if it is not one a user can fix."""
    cause = _CAUSES.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
    return exc if cause is None else UserError(f"{path}: {cause}")


def _private_file(path):
    """os.lstat(path), or None if nothing is there. UserError if it is a symlink or not a regular file."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"{path}: cannot open the database ({exc.strerror}); choose another with --db or WALKDOSE_DB")
    if stat.S_ISLNK(status.st_mode):
        raise _symlink(path)
    if not stat.S_ISREG(status.st_mode):
        raise UserError(f"{path}: not a regular file; choose a database file with --db or WALKDOSE_DB")
    return status


def _refuse_shared(path):
    """UserError if another user owns the database or others may read it: health data is private. Checked
    after the file is known to be a walkdose database (another program's file gets that message instead)."""
    status = os.stat(path)
    if os.name != "posix" or not status.st_size:  # an empty file holds nothing yet: a new database gets 0600
        return
    if status.st_uid != os.getuid():
        raise UserError(f"{path}: owned by another user (uid {status.st_uid}); use your own database, or "
                        f"take this one: chown $USER {path}")
    if status.st_mode & 0o077:
        raise UserError(f"{path}: others may read it (mode {stat.S_IMODE(status.st_mode):04o}) and it holds "
                        f"health data; fix it with: chmod 600 {path}")


def _symlink(path):
    return UserError(f"{path}: a symbolic link; walkdose opens only the file itself (a link could point its "
                     f"health data anywhere): give the real path ({os.path.realpath(path)}) with --db or WALKDOSE_DB")


def _create_private(path):
    """The file at path, created with mode 0600 if new, never through a symlink (O_NOFOLLOW: one put
    there after the check is refused too)."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        # Health data: the file exists with mode 0600 before SQLite opens it (SQLite gives its
        # journal the database's mode). O_NONBLOCK: a FIFO put there after the check must not hang us.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0),
                     0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _symlink(path) from None
        raise UserError(f"{path}: cannot open the database ({exc.strerror}); choose another with --db or "
                        "WALKDOSE_DB") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise UserError(f"{path}: not a regular file; choose a database file with --db or WALKDOSE_DB")
        if status.st_size == 0:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _check_or_create(conn, path, readonly):
    """Check the file is a walkdose database this walkdose reads, or make an empty file one, and add
    the tables added since the file was made. All in one write transaction (BEGIN IMMEDIATE), so two
    first opens of one new file never both create it. Read-only, the added tables a file lacks are
    made empty TEMP tables of this connection, so the queries read them as empty."""
    try:
        if not readonly:
            conn.execute("BEGIN IMMEDIATE")
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError:
        raise UserError(f"{path}: not a walkdose database (not SQLite); choose another file with --db or WALKDOSE_DB")
    try:
        if application_id == 0 and tables == 0:
            if readonly:  # an empty file: read as an empty database
                _create(conn, SCHEMA.split(";"), temporary=True)
                return
            _create(conn, SCHEMA.split(";") + [f"PRAGMA application_id = {APPLICATION_ID}",
                                                f"PRAGMA user_version = {SCHEMA_VERSION}"])
            conn.commit()
            return
        if application_id != APPLICATION_ID:
            raise UserError(f"{path}: not a walkdose database (another program's SQLite file); "
                            "choose another file with --db or WALKDOSE_DB")
        if version > SCHEMA_VERSION:
            raise UserError(f"{path}: written by a newer walkdose (schema {version}, this one reads "
                            f"{SCHEMA_VERSION}); upgrade walkdose")
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        _create(conn, [sql for name, sql in ADDED_TABLES.items() if name not in present], temporary=readonly)
        conn.commit()
    finally:
        if conn.in_transaction:
            conn.rollback()


def _create(conn, statements, temporary=False):
    for sql in statements:
        if sql.strip():
            conn.execute(sql.replace("CREATE TABLE", "CREATE TEMP TABLE") if temporary else sql)


# ---- writing what a sync fetched -----------------------------------------------------------

def save_device(conn, info, synced_epoch_s):
    """The device's identity and state at this sync (the `info` answer of the link)."""
    with conn:
        conn.execute("INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (info["device_id"], info["board"], info["firmware"], info["battery_mv"], info["boot_id"],
                      info["uptime_s"], int(bool(info["clock_set"])), synced_epoch_s))
        placement.note_boot(conn, info["device_id"], info["boot_id"], synced_epoch_s - info["uptime_s"], "current_boot")
        placement.place(conn, info["device_id"])


def highest_seq(conn, device_id):
    """The highest seq of a record of device_id in the database, 0 if none."""
    return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records WHERE device_id = ?", (device_id,)).fetchone()[0]


def save_losses(conn, device_id, report, epoch_s):
    """The device's loss counters (DayStore.report()). They are cumulative, so the latest report replaces the
    one held, except that each counter keeps the largest value seen: a flash rollback takes the device's counters
    back with its files, and a loss once reported must not disappear from the report."""
    with conn:
        conn.execute("INSERT INTO losses VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                     "epoch_s = excluded.epoch_s, boot_id = excluded.boot_id, acked_seq = excluded.acked_seq, "
                     "lost_detail = max(lost_detail, excluded.lost_detail), "
                     "lost_summary = max(lost_summary, excluded.lost_summary), "
                     "quarantined = max(quarantined, excluded.quarantined), "
                     "failed_writes = max(failed_writes, excluded.failed_writes)",
                     (device_id, epoch_s, report["boot_id"], report["acked_seq"], report["lost_detail"],
                      report["lost_summary"], report["quarantined"], report["failed_writes"]))


def save_sensor(conn, device_id, snapshot, epoch_s):
    """The IMU's counters of one boot (the link's `sensor` answer); they only grow during a boot and
    start again at 0 at the next, so the latest replaces its boot's row and other boots' rows stay."""
    with conn:
        conn.execute("INSERT OR REPLACE INTO sensor_health VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (device_id, snapshot["boot_id"], epoch_s, snapshot["uptime_s"], snapshot["samples"],
                      snapshot["overflows"], snapshot["faults"]))


def save_record(conn, device_id, seq, data, boot_id, uptime_s, epoch_s):
    """Store DayStore.read(seq) of one device: its summary record and, unless the device already
    dropped it, its minutes record. A copy fetched again (the open day, grown) merges minute by
    minute: its minutes replace the stored ones, stored minutes it lacks stay. ValueError naming
    seq if data is not one valid summary (+ minutes) record of seq. boot_id, uptime_s and epoch_s
    are the device's boot and uptime at this sync and the host's UTC time then."""
    summary, minutes, first_minute = _parse(seq, data)
    flags, key, payload = summary[1], summary[2], summary[4]
    segment = flags & store.FLAG_SEGMENT
    values = struct.unpack_from(store.SUMMARY, payload)
    anchor = (None, None)
    if segment:
        anchor = struct.unpack_from(store.ANCHOR, payload, store.SUMMARY_BYTES)
        anchor = (None, None) if store.NO_ANCHOR in anchor else anchor
    start_s = values[0]
    if not segment and abs(start_s - key * 86400) > wire.MAX_OFFSET_S:
        raise ValueError(f"seq {seq}: day key {key} but start_s {start_s}, not that day's local midnight at any "
                         f"UTC offset within {wire.MAX_OFFSET_S} s; the record is damaged")
    if not segment and start_s > epoch_s + 86400:
        raise ValueError(f"seq {seq}: day %04d-%02d-%02d starts after this computer's clock plus one day; check "
                         "the computer's and the board's clocks and sync again" % clock.civil_from_days(key))
    with conn:
        old = conn.execute("SELECT key, segment, steps, bouts, longest_bout_s, anchor_uptime_s, anchor_epoch_s, "
                           "has_minutes "
                           "FROM records WHERE device_id = ? AND seq = ?", (device_id, seq)).fetchone()
        if old and (old[0], old[1]) != (key, segment):
            raise ValueError(f"seq {seq} of device {device_id}: stored as key {old[0]}, now key {key}; "
                             "was the device's store wiped? sync it into a new database (--db)")
        start_s, steps, walk_s, slow, moderate, brisk, bouts, longest_bout_s, worn, recorded = values
        has_minutes = int(minutes is not None or bool(old and old[7]))
        if old:  # steps, bouts and the longest bout only grow while a record is open
            steps, bouts, longest_bout_s = max(steps, old[2]), max(bouts, old[3]), max(longest_bout_s, old[4])
            if anchor[0] is None:
                anchor = (old[5], old[6])
        conn.execute("INSERT OR REPLACE INTO records VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                     (device_id, seq, key, segment, start_s, anchor[0], anchor[1], steps, walk_s, slow, moderate,
                      brisk, bouts, longest_bout_s, worn, recorded, has_minutes))
        if minutes is not None:
            rows = list(_minute_rows(minutes, first_minute))
            conn.executemany("INSERT OR REPLACE INTO minutes VALUES (?, ?, ?, ?, ?, ?, ?)",
                             ((device_id, seq) + m for m in rows))
            impossible = next(((m[0], why) for m in rows for why in [dayrules.impossible_minute(m[1], m[2])]
                               if why), None)
            if impossible:
                placement.quarantine(conn, device_id, seq, "values", "minute %d: %s" % impossible)
        placement.note_boot(conn, device_id, boot_id, epoch_s - uptime_s, "current_boot")
        if segment and anchor[0] is not None:  # a boot this database never saw as current
            placement.note_boot(conn, device_id, key >> 8, anchor[1] - anchor[0], "anchored")
        placement.place(conn, device_id)


def _parse(seq, data):
    """(summary record, decoded minute slots or None, first minute) of DayStore.read(seq) bytes."""
    records, bad_bytes = store.parse_records(data)
    if bad_bytes or not records:
        raise ValueError(f"seq {seq}: {bad_bytes} damaged bytes in {len(data)}, {len(records)} valid records; "
                         "expected a summary record and its minutes record")
    summary = records[0]
    kind, flags, key, record_seq, payload, _ = summary
    payload_bytes = store.SUMMARY_BYTES + (store.ANCHOR_BYTES if flags & store.FLAG_SEGMENT else 0)
    if kind != store.KIND_SUMMARY or record_seq != seq or len(payload) != payload_bytes:
        raise ValueError(f"seq {seq}: first record is kind {kind}, seq {record_seq}, {len(payload)} bytes; "
                         f"expected a summary of seq {seq} ({payload_bytes} bytes)")
    if len(records) == 1:
        return summary, None, 0
    minutes = records[1]
    if len(records) > 2 or minutes[0] != store.KIND_MINUTES or minutes[1:4] != summary[1:4] or len(minutes[4]) < 2:
        raise ValueError(f"seq {seq}: the record after the summary is not its minutes record "
                         f"(kind {minutes[0]}, key {minutes[2]}, seq {minutes[3]}, {len(records)} records)")
    first_minute = struct.unpack_from("<H", minutes[4])[0]
    slots = store.minute_slots()
    try:
        store.decode_minutes(minutes[4][2:], first_minute, slots)
    except ValueError as exc:
        raise ValueError(f"seq {seq}: {exc}") from None
    return summary, slots, first_minute


def _minute_rows(slots, first_minute):
    """(minute, walk_s, steps, pace, movement_code) of every recorded minute in decoded slots."""
    for minute in range(first_minute, store.MAX_MINUTES):
        values = store.minute_values(slots, minute)
        if values is not None:
            yield (minute,) + values


# ---- reading: minutes and local days -------------------------------------------------------

def device_ids(conn):
    return [row[0] for row in conn.execute(
        "SELECT device_id FROM devices UNION SELECT device_id FROM records ORDER BY 1")]


def minute_rows(conn, device_id=None, since_epoch_s=None, until_epoch_s=None):
    """[(utc_minute, device_id, walk_s, steps, pace, movement_code, estimated)] in time order, one per
    UTC minute (epoch // 60). Copies of one day (a device's day records of one key) hold each minute
    once: the copy with the larger seq wins it. One device's other records that cover the same minute
    are combined as the store combines a minute lived twice (walk_s summed up to 60, steps summed, the
    larger pace and movement); between devices the one with the larger walk_s that minute is taken
    whole (on a tie, the device whose id sorts first). Only minutes from since_epoch_s and before
    until_epoch_s when given."""
    sql = ("SELECT (r.start_epoch_s + 60 * m.minute) / 60 AS utc_minute, m.device_id, m.walk_s, m.steps, m.pace, "
           "m.movement_code, r.placement = 'estimated' AS estimated, ROW_NUMBER() OVER (PARTITION BY m.device_id, "
           # a day's copies share their key; a segment is its own record
           "r.segment, CASE WHEN r.segment THEN r.seq ELSE r.key END, r.start_epoch_s + 60 * m.minute "
           "ORDER BY r.seq DESC) AS newest "
           # CROSS JOIN: SQLite then reads the few records in range first, their minutes by key
           "FROM records r CROSS JOIN minutes m ON m.device_id = r.device_id AND m.seq = r.seq "
           "WHERE r.start_epoch_s IS NOT NULL")
    params = []
    if device_id is not None:
        sql += " AND m.device_id = ?"
        params.append(device_id)
    if since_epoch_s is not None:  # the first test picks records (a few a day), the second minutes
        sql += " AND r.start_epoch_s > ? AND r.start_epoch_s + 60 * m.minute >= ?"
        params += [since_epoch_s - 60 * store.MAX_MINUTES, since_epoch_s]
    if until_epoch_s is not None:
        sql += " AND r.start_epoch_s < ? AND r.start_epoch_s + 60 * m.minute < ?"
        params += [until_epoch_s, until_epoch_s]
    sql = ("SELECT utc_minute, device_id, MIN(60, SUM(walk_s)), SUM(steps), MAX(pace), MAX(movement_code), "
           f"MAX(estimated) FROM ({sql}) WHERE newest = 1 GROUP BY device_id, utc_minute ORDER BY utc_minute, device_id")
    chosen = {}
    for row in conn.execute(sql, params):
        best = chosen.get(row[0])
        if best is None or row[2] > best[2]:
            chosen[row[0]] = row
    return list(chosen.values())


def day_totals(conn, zone, device_id=None, since_epoch_s=None, until_epoch_s=None):
    """{date: dayrules.Day} per host-local calendar day, from minute_rows() and from the summaries of
    records whose minutes the device dropped before a sync, with each day's bouts, longest bout and
    whether any minute was placed by estimate. Copies of one day count once: a summary stands in only
    for a day no copy of which has minutes (the newest summary), and copies whose minutes overlap
    (a summary overlaps all) give their largest bouts, not their sum. Only minutes and records from
    since_epoch_s and before until_epoch_s when given."""
    days = collections.defaultdict(dayrules.Day)
    dates = {}  # quarter hour -> local date: every time zone's offset is a multiple of 15 minutes
    for utc_minute, _, walk_s, steps, pace, code, estimated in minute_rows(conn, device_id, since_epoch_s,
                                                                           until_epoch_s):
        quarter = utc_minute // 15
        if quarter not in dates:
            dates[quarter] = localtime.local_date(quarter * 900, zone)
        day = days[dates[quarter]]
        day.add_minute(walk_s, steps, pace, code)
        day.estimated |= bool(estimated)
    sql = ("SELECT r.device_id, r.seq, r.segment, r.key, r.start_epoch_s, r.placement, r.has_minutes, r.steps, "
           "r.walk_s, r.slow_min, r.moderate_min, r.brisk_min, r.bouts, r.longest_bout_s, r.worn_min, "
           "r.recorded_min, MIN(m.minute), MAX(m.minute) FROM records r LEFT JOIN minutes m "
           "ON m.device_id = r.device_id AND m.seq = r.seq WHERE r.start_epoch_s IS NOT NULL")
    params = []
    if device_id is not None:
        sql += " AND r.device_id = ?"
        params.append(device_id)
    if since_epoch_s is not None:
        sql += " AND r.start_epoch_s > ?"
        params.append(since_epoch_s - 60 * store.MAX_MINUTES)
    if until_epoch_s is not None:
        sql += " AND r.start_epoch_s < ?"
        params.append(until_epoch_s)
    copies = collections.defaultdict(list)  # (device, day key, or a segment's seq) -> its records, by seq
    for (device, seq, segment, key, start, how, has_minutes, steps, walk_s, slow, moderate, brisk, n_bouts,
         longest, worn, recorded, first, last) in conn.execute(sql + " GROUP BY r.device_id, r.seq ORDER BY 1, 2",
                                                               params):
        # A record's bouts belong to the day of the middle of its recorded minutes (its own day
        # when host and device share a time zone).
        middle_s = start + 30 * ((first or 0) + (last if last is not None else recorded))
        if (since_epoch_s is not None and middle_s < since_epoch_s) or (
                until_epoch_s is not None and middle_s >= until_epoch_s):
            continue
        span = (0, store.MAX_MINUTES) if first is None else (first, last)
        copies[device, segment, seq if segment else key].append(
            (span, localtime.local_date(middle_s, zone), how, has_minutes, n_bouts, longest,
             (walk_s, steps, slow, moderate, brisk, worn, recorded)))
    bouts = {}  # (date, device) -> [bouts, longest]: one walk seen by two devices is one bout
    for (device, *_), records in copies.items():
        if not any(has_minutes for _, _, _, has_minutes, *_ in records):
            _, date, how, _, _, _, summary = records[-1]  # only summaries: the newest stands in
            days[date].add_summary(*summary)
            days[date].estimated |= how == "estimated"
        for date, n_bouts, longest in _bouts_once(records):
            seen = bouts.setdefault((date, device), [0, 0])
            seen[0] += n_bouts
            seen[1] = max(seen[1], longest)
    for (date, device), (n_bouts, longest) in bouts.items():
        day = days[date]
        day.bouts = max(day.bouts, n_bouts)
        day.longest_bout_s = max(day.longest_bout_s, longest)
    return dict(days)


def _bouts_once(records):
    """(date, bouts, longest_bout_s) per group of one day's records whose minute spans overlap: copies
    of the same walks give their largest count; parts apart (a reboot came between) add up."""
    group = None
    for (first, last), date, _, _, n_bouts, longest, _ in sorted(records, key=lambda r: r[0]):
        if group and first <= group[0]:
            group[:] = [max(group[0], last), date, max(group[2], n_bouts), max(group[3], longest)]
            continue
        if group:
            yield tuple(group[1:])
        group = [last, date, n_bouts, longest]
    yield tuple(group[1:])


def losses(conn, device_id=None):
    """[{device_id, epoch_s, lost_detail, lost_summary, quarantined, failed_writes}] latest per device."""
    rows = conn.execute("SELECT device_id, epoch_s, lost_detail, lost_summary, quarantined, failed_writes FROM losses "
                        "WHERE ? IS NULL OR device_id = ? ORDER BY device_id", (device_id, device_id))
    names = ("device_id", "epoch_s", "lost_detail", "lost_summary", "quarantined", "failed_writes")
    return [dict(zip(names, row)) for row in rows]


def quarantined(conn, device_id=None):
    """[{device_id, seq, reason}]: records set aside, neither placed nor counted (placement.quarantine)."""
    rows = conn.execute("SELECT device_id, seq, reason FROM quarantine WHERE ? IS NULL OR device_id = ? "
                        "ORDER BY device_id, seq", (device_id, device_id))
    return [dict(zip(("device_id", "seq", "reason"), row)) for row in rows]


def estimates(conn, device_id=None):
    """[{device_id, records, uncertainty_min}] per device with records placed by estimate: how many,
    and how far the least certain of them may lie from its true time."""
    rows = conn.execute("SELECT device_id, COUNT(*), MAX(uncertainty_s) FROM estimates "
                        "WHERE ? IS NULL OR device_id = ? GROUP BY device_id ORDER BY device_id",
                        (device_id, device_id))
    return [{"device_id": device, "records": n, "uncertainty_min": round(uncertainty_s / 60)}
            for device, n, uncertainty_s in rows]


def sensor_totals(conn, device_id=None):
    """[{device_id, boots, samples, overflows, faults}] per device: the sums over its stored boots."""
    rows = conn.execute("SELECT device_id, COUNT(*), SUM(samples), SUM(overflows), SUM(faults) FROM sensor_health "
                        "WHERE ? IS NULL OR device_id = ? GROUP BY device_id ORDER BY device_id",
                        (device_id, device_id))
    names = ("device_id", "boots", "samples", "overflows", "faults")
    return [dict(zip(names, row)) for row in rows]


def load_plan(conn):
    """(goal_min, step_min, start_date ISO or None) as `walkdose plan` last set them, or None."""
    return conn.execute("SELECT goal_min, step_min, start_date FROM plan").fetchone()


def save_plan(conn, goal_min, step_min, start_date, from_date=ALWAYS, before=None):
    """Set the plan from from_date (ISO) on; days before it keep the settings they had (before: the settings in
    force until now, recorded once for a database that has no change yet). From ALWAYS: for every day."""
    with conn:
        if from_date == ALWAYS:
            conn.execute("DELETE FROM plan_changes")
        elif before and not conn.execute("SELECT count(*) FROM plan_changes").fetchone()[0]:
            conn.execute("INSERT INTO plan_changes VALUES (?, ?, ?, ?)", (ALWAYS, *before))
        conn.execute("INSERT OR REPLACE INTO plan_changes VALUES (?, ?, ?, ?)",
                     (from_date, goal_min, step_min, start_date))
        conn.execute("INSERT OR REPLACE INTO plan VALUES (1, ?, ?, ?)", (goal_min, step_min, start_date))


def plan_changes(conn):
    """[(from_date ISO, goal_min, step_min, start_date ISO or None)], oldest first; [] if never set."""
    return conn.execute("SELECT from_date, goal_min, step_min, start_date FROM plan_changes "
                        "ORDER BY from_date").fetchall()


def first_date(conn, zone, device_id=None):
    """The local date of the earliest placed record, or None for an empty database."""
    row = conn.execute("SELECT MIN(start_epoch_s) FROM records WHERE ? IS NULL OR device_id = ?",
                       (device_id, device_id)).fetchone()
    return None if row[0] is None else localtime.local_date(row[0], zone)


def days(conn, zone, first, last, device_id=None):
    """One dict per local date from first to last (datetime.date, inclusive), days without data
    included: the date and dayrules.Day.numbers(), the fields `walkdose report --json` documents."""
    # a day's margin either side; dates outside first..last are not shown
    totals = day_totals(conn, zone, device_id, localtime.midnight_s(first, zone) - 86400,
                        localtime.midnight_s(last, zone) + 2 * 86400)
    rows = []
    date = first
    while date <= last:
        rows.append({"date": date.isoformat(), **totals.get(date, dayrules.Day()).numbers()})
        date += datetime.timedelta(days=1)
    return rows
