"""The day store under the real MicroPython unix port on os.VfsLfs2 over sim.blockdev.RamFlash:
a power cut at every distinct flash state of a 13.5-hour run across midnight, a full filesystem and a
damaged pack found at boot."""
import json
import os
import pathlib
import subprocess

from firmware.store import FLUSH_EVERY_MIN

REPO = pathlib.Path(__file__).parent.parent


def run_micropython(binary, *args, script=None):
    """Run the micropython unix port from the repo root; the last stdout line is JSON."""
    command = [binary] + (["-c", script] if script else list(args))
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MICROPYPATH=str(REPO) + ":.frozen"))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_power_cut_sweep_loses_at_most_the_unwritten_minutes(micropython):
    result = run_micropython(micropython, "benchmarks/store_sweep.py", "sweep-short")
    # 810 minutes from 23:00: 8 h on the nightstand and 5.5 h worn, written every 10 minutes and
    # after each bout, the day closed into packs at midnight, the tail rewritten in place, base
    # rewrites, the noon sync and ack.
    assert result["minutes"] == 810
    assert result["events_swept"] >= 810 // FLUSH_EVERY_MIN
    assert result["cut_points"] >= 4 * result["events_swept"]
    # check_after_cut raised inside MicroPython on any damaged record, any minute read back
    # different or any written minute gone; the worst cuts lost exactly the minutes not yet due
    # for writing, of any kind.
    assert result["max_minutes_lost"] == FLUSH_EVERY_MIN


FULL_AND_CORRUPT = """
import json, os
from firmware.clock import Clock
from firmware.store import DayStore
from sim.blockdev import RamFlash

class Ticks:
    ms = 0
    def __call__(self):
        return self.ms & ((1 << 30) - 1)

flash = RamFlash(4096, 16)
os.VfsLfs2.mkfs(flash)
os.mount(os.VfsLfs2(flash), "/flash")
ticks = Ticks()
store = DayStore("/flash/wd", Clock(ticks))
store.boot()
store.clock.set_time(1767567600 + 30, 3600)
free_blocks = os.statvfs("/flash")[3]
with open("/flash/ballast", "wb") as f:  # other files leave the store 5 blocks
    f.write(bytes(4096 * (free_blocks - 5)))
out = {}
for minute in range(4 * 1440):
    ticks.ms += 60000
    walking = minute % 2
    store.record_minute(60 * walking, 110 * walking, 2 * walking, 8 + (minute * 37) % 300)
out["full"] = store.report()
out["files_when_full"] = sorted(os.listdir("/flash/wd"))
out["unsynced_when_full"] = len(store.unsynced())
os.remove("/flash/ballast")
for minute in range(20):
    ticks.ms += 60000
    store.record_minute(60, 100, 2, 300)
store.flush()
out["written_after"] = store.unsaved_minutes

with open("/flash/wd/s00000", "rb") as f:
    data = bytearray(f.read())
data[20] ^= 0x04
with open("/flash/wd/s00000", "wb") as f:
    f.write(data)
os.umount("/flash")
os.mount(os.VfsLfs2(flash.power_cycle()), "/flash")
rebooted = DayStore("/flash/wd", Clock(Ticks()))
rebooted.boot()
out["after_corruption"] = rebooted.report()
out["quarantine"] = rebooted.quarantine_names()
out["unsynced"] = len(rebooted.unsynced())
print(json.dumps(out))
"""


def test_full_filesystem_and_corrupt_pack_never_crash_and_are_reported(micropython):
    out = run_micropython(micropython, script=FULL_AND_CORRUPT)
    # Four days of ~2.9 KB of minutes cannot all fit in 5 blocks next to the ballast: the store
    # dropped its own oldest minutes packs, counted those days, and kept every summary.
    assert 1 <= out["full"]["lost_detail"] <= 3 and out["full"]["lost_summary"] == 0
    assert out["full"]["failed_writes"] == 0  # each ENOSPC was met by evicting, then retried
    assert out["unsynced_when_full"] == 5  # 4 closed days and the open one, all with summaries
    # a minutes pack of each day not lost (one day a pack at this size), the summary pack, the state
    assert out["files_when_full"] == ["d%05d" % n for n in range(out["full"]["lost_detail"], 4)] + ["s00000", "state"]
    assert out["written_after"] == 0  # with room again, the schedule writes as before
    assert out["after_corruption"]["quarantined"] == 1 and out["quarantine"] == ["q1.s00000"]
    assert out["after_corruption"]["boot_id"] == 2
    assert out["unsynced"] == 4  # day 0's summary was damaged; days 1-3 and the open day remain
