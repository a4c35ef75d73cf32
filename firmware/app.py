"""The wearable's main loop: IMU FIFO -> detector -> day store, with the sync link served between reads.

Knows no board and no simulator: the board entry (main.py) or the simulated board hands it the parts
(an IMU with read_fifo_into(), a Clock, a DayStore, a Link, a cue) and a sleep function.
"""
from array import array

from .compat import const
from .detector import EV_BOUT, EV_MINUTE, EV_WORDS, Detector

FIFO_READ_SAMPLES = const(128)  # one read_fifo_into() at most; the FIFO is drained in a loop of these
MIN_SLEEP_MS = const(20)  # never spin: the link is still served within a watermark period
LINK_AWAKE_MS = const(2000)  # after answering a frame, poll every MIN_SLEEP_MS: the host's next request
#                              follows its database commit, and a sync must not wait a watermark per request


class Wearable:
    def __init__(self, imu, clock, store, link, cue=None):
        self.imu = imu
        self.clock = clock
        self.store = store
        self.link = link
        self.cue = cue
        self.detector = Detector(imu.rate_mhz, imu.counts_per_g)
        self.samples = array("h", bytes(6 * FIFO_READ_SAMPLES))
        # Bout lengths in samples become seconds as samples * 8 // (rate / 125 mHz): every device rate
        # divides by 125 exactly, and a 4-hour bout at 104 Hz stays a small int.
        self.rate_per_8s = imu.rate_mhz // 125
        self.period_ms = imu.watermark_samples * 1000000 // imu.rate_mhz
        self.samples_read = 0
        self.imu_faults = 0  # reads the IMU did not answer; the minutes without samples get no record
        self.reached = False
        self.minute_recorded = False
        self.awake_until_ms = 0

    def poll(self):
        """Drain the FIFO through the detector into the store, serve the link once; ms to sleep next."""
        start_ms = self.clock.uptime_ms()
        imu = self.imu
        buf = self.samples
        while True:
            try:
                n = imu.read_fifo_into(buf)
            except OSError:
                self.imu_faults += 1
                break
            if not n:
                break
            self.samples_read += n
            self.feed(buf, n)
            if n < FIFO_READ_SAMPLES:
                break
        answered = self.link.serve()
        self.show_progress()
        now_ms = self.clock.uptime_ms()
        if answered:
            self.awake_until_ms = now_ms + LINK_AWAKE_MS
        if now_ms < self.awake_until_ms:
            return MIN_SLEEP_MS
        return max(MIN_SLEEP_MS, self.period_ms - (now_ms - start_ms))

    def feed(self, buf, n):
        det = self.detector
        start = 0
        while n:
            used = det.feed(buf, start, n)
            self.take_events()
            start += used
            n -= used

    def take_events(self):
        """Minute records and bout ends go to the store; steps and stretches are the detector's own."""
        det = self.detector
        ev = det.events
        store = self.store
        k = 0
        end = det.n_events * EV_WORDS
        while k < end:
            kind = ev[k]
            if kind == EV_MINUTE:
                store.record_minute(ev[k + 2], ev[k + 3], ev[k + 4], ev[k + 5])
                self.minute_recorded = True
            elif kind == EV_BOUT:
                store.record_bout((ev[k + 3] - ev[k + 2]) * 8 // self.rate_per_8s)
            k += EV_WORDS

    def show_progress(self):
        """Tell the cue whether today's walking reached the target the host set (100 min by default)."""
        if self.cue is None or not self.minute_recorded:
            return
        self.minute_recorded = False
        reached = self.store.open_walk_s() >= 60 * self.link.target_min
        if reached != self.reached:
            self.reached = reached
            self.cue(reached)


def run(wearable, sleep_ms):
    """The board's life: read, detect, store, serve; sleep until the FIFO holds the next watermark."""
    while True:
        sleep_ms(wearable.poll())
