"""Day store under the real MicroPython on os.VfsLfs2 over sim.blockdev.RamFlash: power-cut sweep,
erase count and projected flash life, capacity. Prints one JSON object; the sweeps raise on any
damaged record or any written minute lost, the other modes only measure.

    micropython benchmarks/store_sweep.py sweep-short   # tests/test_store_powercut.py (10 s)
    micropython benchmarks/store_sweep.py sweep-full    # every cut point of a 3-day run (1 min)
    micropython benchmarks/store_sweep.py sweep FIRST_MINUTE MINUTES
                                # any window; `sweep 1410 60`, across midnight: tests/test_firmware_qemu.py
    micropython benchmarks/store_sweep.py wear [days [static_kb [warmup_days]]]
                                # erases per block on 256 KB; `wear 20`: tests/test_store_wear.py,
                                # `wear 365`: the README's flash life (4 min)
    micropython benchmarks/store_sweep.py capacity [days [fs_kb [active_min]]]
                                # 760 days in 128 KB, never synced (9 min): design days, or
                                # ActiveDays of active_min walking minutes;
                                # `capacity 25 40 100`: tests/test_store_capacity.py

Cut points: every program and every erase, and the first read of each run of reads (a cut at any
later read of the same run leaves the flash exactly as that one does, so it adds no case).
"""
import gc
import json
import os
import sys
from array import array

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/..")

from firmware import store as store_format  # noqa: E402
from firmware.clock import Clock, days_from_civil  # noqa: E402
from firmware.store import NO_RECORD, DayStore, decode_minutes, parse_records  # noqa: E402
from sim.blockdev import PowerCut, RamFlash  # noqa: E402

MOUNT = "/flash"
ROOT = MOUNT + "/walkdose"
UTC_OFFSET_S = 3600
FIRST_DAY = days_from_civil(2026, 1, 5)
SYNC_MINUTE = 12 * 60  # the host syncs (sets the clock, reads, acks) at local noon


class Ticks:
    """ticks_ms() of the simulated board; starts 5 minutes before the 2**30 ms wrap."""

    def __init__(self):
        self.ms = (1 << 30) - 300000

    def __call__(self):
        return self.ms & ((1 << 30) - 1)


class DesignDay:
    """A synthetic day: 23:00-07:00 on the nightstand (1-3 mg), worn 07:00-23:00 (idle 10-120 mg,
    drifting), 12 walking bouts of 1-10 minutes at 90-125 steps/min. xorshift32, so identical on
    MicroPython and CPython."""

    def __init__(self, seed):
        self.state = seed or 1

    def rand(self, n):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % n

    def minutes(self):
        """[(walk_s, steps, pace, movement_mg, bout_s_ending_after_this_minute)] x 1440."""
        walking = bytearray(1440)
        for _ in range(12):
            start = 420 + self.rand(930)
            for m in range(start, min(start + 1 + self.rand(10), 1380)):
                walking[m] = 1
        day = []
        idle_mg = 30
        bout_s = 0
        for m in range(1440):
            if walking[m]:
                walk_s = 60 if walking[m - 1] and walking[m + 1] else 20 + self.rand(40)
                cadence = 90 + self.rand(36)
                pace = 1 if cadence < 100 else (2 if cadence < 120 else 3)
                bout_s += walk_s
                ends = 0 if walking[m + 1] else bout_s
                if ends:
                    bout_s = 0
                day.append((walk_s, walk_s * cadence // 60, pace, 150 + self.rand(250), ends))
            elif 420 <= m < 1380:
                idle_mg = min(120, max(10, idle_mg + self.rand(21) - 10))
                day.append((0, 0, 0, idle_mg, 0))
            else:
                day.append((0, 0, 0, 1 + self.rand(3), 0))
        return day


class ActiveDay(DesignDay):
    """A day of a wearer who walks `active_min` minutes (walkdose's target is ~100: HUNT's 101-124
    minutes a day): 4-6 walks of steady cadence (95-125 steps/min, +-3 a minute) and movement
    (150-400 mg, +-20 % a minute), 23:00-07:00 on the nightstand (1-3 mg), worn fidgeting between
    the walks with the movement octave jumping by up to 2 octaves a minute (10-120 mg)."""

    def __init__(self, seed, active_min):
        DesignDay.__init__(self, seed)
        self.active_min = active_min

    def minutes(self):
        walking = bytearray(1441)  # walk number of each minute, 0: not walking
        walks = 4 + self.rand(3)
        cadence = bytearray(walks + 1)
        movement_mg = [0] * (walks + 1)
        left = self.active_min
        for walk in range(1, walks + 1):
            length = left // (walks - walk + 1)
            left -= length
            start = 420 + self.rand(950 - length)
            while any(walking[start - 1:start + length + 1]):  # walks neither touch nor overlap
                start = 420 + self.rand(950 - length)
            for m in range(start, start + length):
                walking[m] = walk
            cadence[walk] = 95 + self.rand(31)
            movement_mg[walk] = 150 + self.rand(250)
        day = []
        level = 40  # worn idle movement, 8 * log2(mg)
        bout_s = 0
        for m in range(1440):
            walk = walking[m]
            if walk:
                walk_s = 60 if walking[m - 1] and walking[m + 1] else 20 + self.rand(40)
                steps_per_min = cadence[walk] - 3 + self.rand(7)
                pace = 1 if steps_per_min < 100 else (2 if steps_per_min < 120 else 3)
                bout_s += walk_s
                ends = 0 if walking[m + 1] else bout_s
                if ends:
                    bout_s = 0
                day.append((walk_s, walk_s * steps_per_min // 60, pace,
                            movement_mg[walk] * (80 + self.rand(41)) // 100, ends))
            elif 420 <= m < 1380:
                level = min(55, max(27, level + self.rand(33) - 16))
                day.append((0, 0, 0, (8 + (level & 7)) << (level >> 3) >> 3, 0))
            else:
                day.append((0, 0, 0, 1 + self.rand(3), 0))
        return day


def _copy(value):
    if isinstance(value, bytearray):
        return bytearray(value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return dict((k, _copy(v)) for k, v in value.items())
    return value


class Board:
    """Flash, tick source, clock and store of one simulated wearable."""

    def __init__(self, flash, capacity_bytes=128 * 1024):
        self.flash = flash
        self.ticks = Ticks()
        self.clock = Clock(self.ticks)
        self.capacity_bytes = capacity_bytes
        self.mount()
        self.store = DayStore(ROOT, self.clock, capacity_bytes)
        self.store.boot()

    def mount(self):
        os.mount(os.VfsLfs2(self.flash), MOUNT)

    def remount(self):
        try:
            os.umount(MOUNT)
        except OSError:
            pass
        self.mount()

    def snapshot(self, image):
        """The board's state, its flash copied into `image` (preallocated: a fresh 128 KB per
        minute fragments MicroPython's heap until a 3-day sweep cannot allocate one)."""
        image[:] = self.flash.image
        return (image, self.ticks.ms, _copy(self.store.__dict__), _copy(self.clock.__dict__))

    def restore(self, snap):
        self.flash = self.flash.power_cycle()
        self.flash.image[:] = snap[0]
        self.ticks.ms = snap[1]
        for name, value in snap[2].items():
            setattr(self.store, name, _copy(value))
        for name, value in snap[3].items():
            setattr(self.clock, name, value)
        self.remount()

    def sync(self):
        epoch_s = (FIRST_DAY * 86400 - UTC_OFFSET_S) + (self.ticks.ms - Ticks().ms) // 1000
        self.clock.set_time(epoch_s, UTC_OFFSET_S)
        closed = [seq for seq, key, flags in self.store.unsynced() if seq != self.store.open_seq]
        if closed:
            self.store.ack(closed[-1])

    def minute(self, tally):
        self.ticks.ms += 60000
        walk_s, steps, pace, movement_mg, bout_s = tally
        self.store.record_minute(walk_s, steps, pace, movement_mg)
        if bout_s:
            self.store.record_bout(bout_s)


def recovered_minutes(board):
    """Reboot on the flash as it is: {key: slots} of every record the store can read back, and the
    store's report. Raises if anything the store wrote does not parse."""
    try:
        os.umount(MOUNT)
    except OSError:
        pass
    board.flash = board.flash.power_cycle()
    os.mount(os.VfsLfs2(board.flash), MOUNT)
    rebooted = DayStore(ROOT, Clock(Ticks()))
    rebooted.boot()
    found = {}
    records = []
    for name in os.listdir(ROOT):
        with open(ROOT + "/" + name, "rb") as f:
            data = f.read()
        parsed, bad_bytes = parse_records(data)
        if bad_bytes:
            raise AssertionError("file %s has %d damaged bytes after a power cut" % (name, bad_bytes))
        if name[0] == "d":
            records += parsed
    if rebooted.open_seq != NO_RECORD:
        records += parse_records(rebooted.read(rebooted.open_seq))[0][1:]
    for kind, flags, key, seq, payload, end in records:
        slots = found.setdefault(key, bytearray(len(rebooted.slots)))
        decode_minutes(payload[2:], payload[0] | payload[1] << 8, slots)
    return found, rebooted


def expected_slot(tally):
    """A minute as the spec's tokens keep it: idle movement at octave precision."""
    walk_s, steps, pace, movement_mg, _ = tally
    slots = bytearray(4)
    code = store_format.movement_code(movement_mg)
    slots[:] = bytes((0x80 | pace, walk_s, min(steps, 255), code))
    tokens = store_format.encode_minutes(slots, 0, 1)
    decoded = bytearray(store_format.MAX_MINUTES * 4)
    decode_minutes(tokens, 0, decoded)
    return bytes(decoded[:4])


class Truth:
    """Every minute handed to the store, per day key: its slot as the spec's tokens keep it, and
    n, its place in the run. Flat arrays, not a dict of tuples: a 3-day sweep's dict of 4,320
    entries fragments MicroPython's heap until a 128 KB snapshot cannot be allocated."""

    def __init__(self):
        self.days = {}  # key -> (slots, n of each minute or -1)

    def add(self, key, minute, slot, n):
        if key not in self.days:
            self.days[key] = (bytearray(store_format.MAX_MINUTES * 4),
                              array("i", [-1] * store_format.MAX_MINUTES))
        slots, order = self.days[key]
        slots[minute * 4:minute * 4 + 4] = slot
        order[minute] = n


def check_after_cut(board, truth, durable):
    """(minutes lost, acked seq) after a reboot; the first `durable` minutes of the run were on
    flash."""
    found, rebooted = recovered_minutes(board)
    if rebooted.quarantined:
        raise AssertionError("a power cut left a record the store had to quarantine")
    lost = 0
    for key, (expected, order) in truth.days.items():
        slots = found.get(key)
        for minute in range(store_format.MAX_MINUTES):
            if order[minute] < 0:
                continue
            s = minute * 4
            if slots is None or not slots[s]:
                if order[minute] < durable:
                    raise AssertionError("day %d minute %d was written and is gone" % (key, minute))
                lost += 1
            elif slots[s:s + 4] != expected[s:s + 4]:
                raise AssertionError("day %d minute %d read back as %s, written as %s"
                                     % (key, minute, bytes(slots[s:s + 4]), bytes(expected[s:s + 4])))
    return lost, rebooted.acked_seq


def cut_points(log):
    points = []
    for i in range(len(log)):
        if log[i] != 0x72 or i == 0 or log[i - 1] != 0x72:
            points.append(i + 1)
    return points


def sweep(first_minute, minutes):
    """Run `minutes` design minutes from local minute `first_minute` of day 0; before each event,
    cut the power at every cut point, reboot and check the flash."""
    flash = RamFlash(4096, 32)
    os.VfsLfs2.mkfs(flash)
    board = Board(flash)
    board.ticks.ms += first_minute * 60000
    board.sync()
    tallies_day = -1
    truth = Truth()
    durable = fed = 0  # minutes on flash, minutes handed to the store
    result = {"operations": 0, "cut_points": 0, "max_minutes_lost": 0, "events_swept": 0}
    acked_seen = 0
    before_image = bytearray(len(flash.image))
    after_image = bytearray(len(flash.image))
    for n in range(minutes):
        minute_of_run = first_minute + n
        day, minute = divmod(minute_of_run, 1440)
        if day != tallies_day:  # one day of tallies at a time: the heap is small
            tallies, tallies_day = DesignDay(1000 + day).minutes(), day
        tally = tallies[minute]
        sync = minute == SYNC_MINUTE
        before = board.snapshot(before_image)
        board.flash.operation_log = bytearray()
        if sync:
            board.sync()
        board.minute(tally)
        log = board.flash.operation_log
        board.flash.operation_log = None
        after = board.snapshot(after_image)
        expected = expected_slot(tally)
        truth.add(FIRST_DAY + day, minute, expected, fed)
        fed += 1
        points = cut_points(log)
        result["operations"] += len(log)
        if points:
            result["events_swept"] += 1
        for point in points:
            board.restore(before)
            board.flash.cut_power_at(point)
            try:
                if sync:
                    board.sync()
                board.minute(tally)
                raise AssertionError("no power cut at operation %d of %d" % (point, len(log)))
            except PowerCut:
                # Finalise the dead filesystem's open files now, while the shared afterlife copy is still
                # theirs (sim/blockdev.py): collected after a later cut, they ran on that cut's image and
                # littlefs printed "OSError: 28" from the finaliser.
                gc.collect()
            lost, acked = check_after_cut(board, truth, durable)
            if acked < acked_seen:
                raise AssertionError("acked seq went back from %d to %d" % (acked_seen, acked))
            result["max_minutes_lost"] = max(result["max_minutes_lost"], lost)
            result["cut_points"] += 1
        board.restore(after)
        if not board.store.unsaved_minutes:
            durable = fed
        acked_seen = board.store.acked_seq if not sync else acked_seen
    result["minutes"] = minutes
    return result


def wear(days, block_count, ballast_bytes, warmup_days):
    """Erases on a block_count x 4 KB littlefs holding ballast_bytes of static files (firmware)
    while the store records `days` design days with a daily sync, counted after `warmup_days` that
    fill the store, so its own packs sit still for the whole count as they do on a full device."""
    flash = RamFlash(4096, block_count)
    os.VfsLfs2.mkfs(flash)
    os.mount(os.VfsLfs2(flash), MOUNT)
    with open(MOUNT + "/ballast", "wb") as f:
        f.write(bytes(ballast_bytes))
    os.umount(MOUNT)
    board = Board(flash)
    board.sync()
    for day in range(warmup_days + days):
        if day == warmup_days:
            start = list(board.flash.erases_per_block)
        for minute, tally in enumerate(DesignDay(1000 + day).minutes()):
            if minute == SYNC_MINUTE:
                board.sync()
            board.minute(tally)
    erases = [after - before for after, before in zip(board.flash.erases_per_block, start)]
    worst = max(erases)
    os.umount(MOUNT)
    return {"days": days, "warmup_days": warmup_days, "fs_bytes": 4096 * block_count,
            "ballast_bytes": ballast_bytes, "erases_per_day": sum(erases) / days,
            "worst_block": erases.index(worst), "erases_per_block": erases,
            "worst_block_erases_per_day": worst / days,
            "life_years_at_10k_cycles": 10000 * days / worst / 365}


def capacity(days, fs_kb, active_min):
    """Record `days` days with no sync at all into a littlefs of fs_kb (the store's capacity_bytes
    too): how many days of detail and of summaries the store still holds at the end, and the day's
    record sizes. Design days, or with active_min ActiveDays of that many walking minutes."""
    flash = RamFlash(4096, fs_kb // 4)
    os.VfsLfs2.mkfs(flash)
    board = Board(flash, fs_kb * 1024)
    board.sync()
    record_bytes = []  # the minutes record of every closed day, read back just after its close
    for day in range(days):
        model = ActiveDay(1000 + day, active_min) if active_min else DesignDay(1000 + day)
        for minute, tally in enumerate(model.minutes()):
            board.minute(tally)
            if minute == 0 and day:
                closed = parse_records(board.store.read(board.store.open_seq - 1))[0]
                record_bytes.append(14 + len(closed[-1][4]) + 4 if closed[-1][0] == 2 else 0)
    detail = summaries = detail_bytes = 0
    packs = sorted(n for n in os.listdir(ROOT) if n[0] in "ds" and n != "state")
    for name in packs:
        with open(ROOT + "/" + name, "rb") as f:
            records = parse_records(f.read())[0]
        if name[0] == "d":
            detail += len(records)
            detail_bytes += sum(14 + len(r[4]) + 4 for r in records)
        else:
            summaries += len(records)
    os.umount(MOUNT)
    return {"days": days, "fs_bytes": fs_kb * 1024, "active_min": active_min, "detail_days_kept": detail,
            "summary_days_kept": summaries,
            "detail_record_bytes": record_bytes, "packs": packs,
            "detail_bytes_per_day": detail_bytes // max(detail, 1),
            "summary_bytes_per_day": 14 + store_format.SUMMARY_BYTES + 4,
            "report": board.store.report()}


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "sweep-short"
    if mode == "sweep-short":
        out = sweep(23 * 60, 810)  # midnight close into packs, base merges, noon sync and ack
    elif mode == "sweep-full":
        out = sweep(0, 3 * 1440)
    elif mode == "sweep":
        out = sweep(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "wear":
        given = [int(a) for a in sys.argv[2:5]]
        days, static_kb, warmup_days = given + [30, 160, 0][len(given):]
        out = wear(days, 64, static_kb * 1024, warmup_days)
    elif mode == "capacity":
        given = [int(a) for a in sys.argv[2:5]]
        days, fs_kb, active_min = given + [760, 128, 0][len(given):]
        out = capacity(days, fs_kb, active_min)
    else:
        raise SystemExit("mode must be sweep-short, sweep-full, sweep, wear or capacity, not %r" % mode)
    out["mode"] = mode
    print(json.dumps(out))
