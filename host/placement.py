"""Placing device records on the calendar: the UTC start of each record from its own clock, its boot's
known base, or an estimate between its neighbours. Writes only boots and records' placement columns."""


def note_boot(conn, device_id, boot_id, base_epoch_s, placement):
    """Where uptime 0 of a boot lies in UTC; the first exact answer stays, so a re-sync changes nothing."""
    conn.execute("INSERT OR IGNORE INTO boots VALUES (?, ?, ?, ?)", (device_id, boot_id, base_epoch_s, placement))


def place(conn, device_id):
    """Set start_epoch_s (UTC of minute 0) and placement of every record of a device: days by their
    own clock, segments by their boot's exact base, the other segments between their neighbours."""
    bases = dict(((b, (base, how)) for b, base, how in conn.execute(
        "SELECT boot_id, base_epoch_s, placement FROM boots WHERE device_id = ?", (device_id,))))
    spans = dict(((seq, (first, end)) for seq, first, end in conn.execute(
        "SELECT seq, MIN(minute), MAX(minute) + 1 FROM minutes WHERE device_id = ? GROUP BY seq", (device_id,))))
    rows = conn.execute("SELECT seq, key, segment, start_s, recorded_min FROM records WHERE device_id = ? ORDER BY seq",
                        (device_id,)).fetchall()
    placed = {}  # seq -> (start_epoch_s, placement)
    for seq, key, segment, start_s, recorded_min in rows:
        spans.setdefault(seq, (0, recorded_min))
        if not segment:
            placed[seq] = (start_s, "clock")
        elif key >> 8 in bases:
            base, how = bases[key >> 8]
            placed[seq] = (base + start_s, how)
    for boot_rows in _unplaced_boots(rows, placed):
        base = _estimate_base(boot_rows, rows, placed, spans, bases)
        for seq, key, segment, start_s, recorded_min in boot_rows:
            placed[seq] = (None, None) if base is None else (base + start_s, "estimated")
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


def _estimate_base(boot_rows, rows, placed, spans, bases):
    """UTC of uptime 0 for a boot with no anchor: it started when the record before it in seq
    order ended (a reset restarts at once), moved earlier if it would then run into the next
    placed record or the next known boot. None when there is no neighbour to place it by."""
    first_seq, last_seq, boot = boot_rows[0][0], boot_rows[-1][0], boot_rows[0][1] >> 8
    first_uptime_s = min(r[3] + 60 * spans[r[0]][0] for r in boot_rows)
    end_uptime_s = max(r[3] + 60 * spans[r[0]][1] for r in boot_rows)
    before = [seq for seq, *_ in rows if seq < first_seq and placed.get(seq, (None,))[0] is not None]
    prev_end = placed[before[-1]][0] + 60 * spans[before[-1]][1] if before else None
    later_starts = [placed[seq][0] + 60 * spans[seq][0] for seq, *_ in rows
                    if seq > last_seq and placed.get(seq, (None,))[0] is not None]
    later_starts += [base for b, (base, how) in bases.items() if b > boot]
    next_start = min(later_starts) if later_starts else None
    if prev_end is None and next_start is None:
        return None
    base = prev_end - first_uptime_s if prev_end is not None else next_start - end_uptime_s
    if next_start is not None and base + end_uptime_s > next_start:
        base = next_start - end_uptime_s
    return base
