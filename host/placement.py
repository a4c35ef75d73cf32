"""Placing device records on the calendar: the UTC start of each record from its own clock, its boot's
known base, or an estimate chained from its neighbours; and setting aside records no minute can hold.
Writes only boots, quarantine, estimates and records' placement columns."""
from . import dayrules
from .firmware import store

# A power cut falls anywhere between two flushes of the open record, so on average it loses half
# the flush interval; each cut chained through adds that much either way to an estimate's uncertainty.
LOST_AT_CUT_S = 60 * store.FLUSH_EVERY_MIN // 2


def note_boot(conn, device_id, boot_id, base_epoch_s, placement):
    """Where uptime 0 of a boot lies in UTC; the first exact answer stays, so a re-sync changes nothing."""
    conn.execute("INSERT OR IGNORE INTO boots VALUES (?, ?, ?, ?)", (device_id, boot_id, base_epoch_s, placement))


def quarantine(conn, device_id, seq, cause, reason):
    """Set a record aside: kept as fetched, never placed nor counted, listed by the report."""
    conn.execute("INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?)", (device_id, seq, cause, reason))


def place(conn, device_id):
    """Set start_epoch_s (UTC of minute 0) and placement of every record of a device: days by their
    own clock, segments by their boot's exact base, the other segments chained from their neighbours;
    then quarantine a record whose minutes would overfill minutes another record already holds."""
    conn.execute("DELETE FROM quarantine WHERE device_id = ? AND cause = 'overlap'", (device_id,))
    conn.execute("DELETE FROM estimates WHERE device_id = ?", (device_id,))
    bases = dict(((b, (base, how)) for b, base, how in conn.execute(
        "SELECT boot_id, base_epoch_s, placement FROM boots WHERE device_id = ?", (device_id,))))
    spans = dict(((seq, (first, end)) for seq, first, end in conn.execute(
        "SELECT seq, MIN(minute), MAX(minute) + 1 FROM minutes WHERE device_id = ? GROUP BY seq", (device_id,))))
    rows = conn.execute("SELECT seq, key, segment, start_s, recorded_min FROM records WHERE device_id = ? "
                        "AND seq NOT IN (SELECT seq FROM quarantine WHERE device_id = ?) ORDER BY seq",
                        (device_id, device_id)).fetchall()
    placed = {}  # seq -> (start_epoch_s, placement)
    for seq, key, segment, start_s, recorded_min in rows:
        spans.setdefault(seq, (0, recorded_min))
        if not segment:
            placed[seq] = (start_s, "clock")
        elif key >> 8 in bases:
            base, how = bases[key >> 8]
            placed[seq] = (base + start_s, how)
    runs = list(_unplaced_boots(rows, placed))
    estimates = _chain(runs, rows, placed, spans, bases)
    for run, estimate in zip(runs, estimates):
        for seq, key, segment, start_s, recorded_min in run:
            placed[seq] = (None, None) if estimate is None else (estimate[0] + start_s, "estimated")
            if estimate is not None:
                conn.execute("INSERT INTO estimates VALUES (?, ?, ?)", (device_id, seq, estimate[1]))
    conn.execute("UPDATE records SET start_epoch_s = NULL, placement = NULL WHERE device_id = ?", (device_id,))
    for seq, reason in _overfilled(conn, device_id, rows, placed, spans):
        quarantine(conn, device_id, seq, "overlap", reason)
        del placed[seq]
    conn.executemany("UPDATE records SET start_epoch_s = ?, placement = ? WHERE device_id = ? AND seq = ?",
                     [(start, how, device_id, seq) for seq, (start, how) in placed.items()])


def _unplaced_boots(rows, placed):
    """Runs of consecutive segment records of one boot that no exact base places, in seq order."""
    run = []
    for row in rows:
        if row[0] in placed or (run and run[-1][1] >> 8 != row[1] >> 8):
            if run:
                yield run
            run = []
        if row[0] not in placed:
            run.append(row)
    if run:
        yield run


def _chain(runs, rows, placed, spans, bases):
    """[(UTC of uptime 0, uncertainty_s) or None] per run of an unanchored boot. Forward, each starts a
    lost-at-cut after the record before it ends (a reset restarts at once); backward, none may run
    into what follows it (the next placed record, a later known boot or the next estimate), which
    chains the boots before the first sync back from it. None when no neighbour places it."""
    first_s = [min(r[3] + 60 * spans[r[0]][0] for r in run) for run in runs]
    end_s = [max(r[3] + 60 * spans[r[0]][1] for r in run) for run in runs]
    estimates = [None] * len(runs)
    by_seq = {run[0][0]: i for i, run in enumerate(runs)}
    prev = None  # (UTC end of the latest record, its uncertainty)
    for seq, *_ in rows:
        if seq in by_seq:
            i = by_seq[seq]
            if prev is not None:
                estimates[i] = (prev[0] + LOST_AT_CUT_S - first_s[i], prev[1] + LOST_AT_CUT_S)
                prev = (estimates[i][0] + end_s[i], estimates[i][1])
        elif seq in placed:
            prev = (placed[seq][0] + 60 * spans[seq][1], 0)
    known_bases = sorted((b, base) for b, (base, how) in bases.items())
    by_last_seq = {run[-1][0]: i for i, run in enumerate(runs)}
    following = None  # (UTC start of what follows, its uncertainty)
    for seq, key, *_ in reversed(rows):
        if seq in by_last_seq:
            i = by_last_seq[seq]
            later = [(base, 0) for b, base in known_bases if b > key >> 8]
            limit = min([following] + later if following else later, default=None)
            if limit is not None and (estimates[i] is None or estimates[i][0] + end_s[i] + LOST_AT_CUT_S > limit[0]):
                estimates[i] = (limit[0] - LOST_AT_CUT_S - end_s[i], limit[1] + LOST_AT_CUT_S)
            if estimates[i] is not None:
                following = min(following or estimates[i], estimates[i])
        elif seq in placed:
            start = (placed[seq][0] + 60 * spans[seq][0], 0)
            following = min(following or start, start)
    return estimates


def _overfilled(conn, device_id, rows, placed, spans):
    """(seq, reason) of each placed record whose minutes, added to an earlier-placed record's that
    overlaps it in time, would make a minute no one can walk (dayrules.impossible_minute). Copies of
    one day (same key) are not overlaps: db merges them minute by minute."""
    keys = {seq: (segment, key) for seq, key, segment, *_ in rows}
    spans_utc = sorted((placed[seq][0] + 60 * spans[seq][0], placed[seq][0] + 60 * spans[seq][1], seq)
                       for seq in placed if placed[seq][0] is not None)
    kept = []  # (end, seq) of records kept so far, by start
    for start, end, seq in spans_utc:
        for other_end, other in kept:
            if other_end <= start or keys[other] == keys[seq] == (0, keys[seq][1]):
                continue
            shift = placed[seq][0] // 60 - placed[other][0] // 60  # minute m of seq is minute m + shift of other
            row = conn.execute(
                "SELECT a.minute, a.walk_s + b.walk_s, a.steps + b.steps FROM minutes a JOIN minutes b "
                "ON b.device_id = a.device_id AND b.seq = ? AND b.minute = a.minute + ? "
                "WHERE a.device_id = ? AND a.seq = ? AND (a.walk_s + b.walk_s > ? OR a.steps + b.steps > ?) "
                "LIMIT 1", (other, shift, device_id, seq, dayrules.MAX_WALK_S_PER_MIN,
                            dayrules.MAX_STEPS_PER_MIN)).fetchone()
            if row is not None:
                yield seq, (f"minute {row[0]} overlaps seq {other} and would hold "
                            + dayrules.impossible_minute(row[1], row[2]))
                break
        else:
            kept.append((end, seq))
