"""The main loop (firmware/app.py) with its collaborators replaced by simple recording stand-ins: what reaches
the store, the cue and the sleep, for a synthetic walk whose truth is known by construction."""
from array import array

from walkdose.firmware import app
from walkdose.firmware.detector import PACE_MODERATE

from synthetic import concat, still, to_counts, walking

RATE_MHZ = 52000
WATERMARK = 78  # 1.5 s at 52 Hz


class FifoImu:
    """An IMU whose FIFO holds whatever the test puts in; raises ENODEV while `answering` is off."""

    def __init__(self, counts):
        self.rate_mhz = RATE_MHZ
        self.counts_per_g = 4096
        self.watermark_samples = WATERMARK
        self.overflows = 0
        self.flat = counts.reshape(-1).tolist()
        self.at = 0
        self.available = 0
        self.answering = True

    def read_fifo_into(self, buf):
        if not self.answering:
            raise OSError(19)
        n = min(len(buf) // 3, self.available)
        buf[:3 * n] = array("h", self.flat[3 * self.at:3 * (self.at + n)])
        self.at += n
        self.available -= n
        return n


class Clock:
    def __init__(self):
        self.ms = 0

    def uptime_ms(self):
        return self.ms


class Store:
    def __init__(self):
        self.minutes = []
        self.bouts = []

    def record_minute(self, walk_s, steps, pace, movement_mg):
        self.minutes.append((walk_s, steps, pace, movement_mg))

    def record_bout(self, duration_s):
        self.bouts.append(duration_s)

    def open_walk_s(self):
        return sum(m[0] for m in self.minutes)


class Link:
    def __init__(self):
        self.target_min = 1
        self.answers = []  # what serve() returns, call by call; 0 once used up

    def serve(self):
        return self.answers.pop(0) if self.answers else 0


def wearable(seconds_of_counts, cue=None):
    counts = to_counts(seconds_of_counts)
    imu = FifoImu(counts)
    parts = (imu, Clock(), Store(), Link())
    return app.Wearable(*parts, cue=cue), counts


def run_for(w, seconds):
    """The board's loop with time standing in: each sleep lets the FIFO fill for that long."""
    for _ in range(int(seconds * 1000 / 1500)):
        sleep_ms = w.poll()
        w.clock.ms += sleep_ms
        w.imu.available += sleep_ms * RATE_MHZ // 1000000


def test_a_two_minute_walk_reaches_the_store_as_minutes_and_one_bout():
    w, _ = wearable(concat(still(30, 52), walking(120, 52, 110), still(60, 52)))
    run_for(w, 210)
    walk_s = sum(m[0] for m in w.store.minutes)
    steps = sum(m[1] for m in w.store.minutes)
    assert abs(walk_s - 120) <= 3
    assert abs(steps - 220) <= 3
    assert any(m[2] == PACE_MODERATE for m in w.store.minutes)
    assert len(w.store.bouts) == 1 and abs(w.store.bouts[0] - 120) <= 3  # seconds from samples at 52 Hz


def test_the_cue_lights_once_today_reaches_the_target():
    cues = []
    w, _ = wearable(concat(walking(150, 52, 110), still(60, 52)), cue=cues.append)
    run_for(w, 200)
    assert cues == [True]  # the stand-in link's target is 1 minute


def test_an_imu_that_does_not_answer_is_counted_and_the_loop_goes_on():
    w, _ = wearable(still(10, 52))
    w.imu.answering = False
    run_for(w, 6)
    assert w.imu_faults == 4
    w.imu.answering = True
    run_for(w, 3)
    assert w.samples_read > 0


def test_it_sleeps_a_watermark_but_stays_awake_while_a_sync_talks():
    w, _ = wearable(still(60, 52))
    assert w.poll() == 1500
    w.link.answers = [1]
    assert w.poll() == app.MIN_SLEEP_MS
    w.clock.ms += app.LINK_AWAKE_MS - 1
    assert w.poll() == app.MIN_SLEEP_MS  # the host's next request may take a database commit
    w.clock.ms += 2
    assert w.poll() == 1500
