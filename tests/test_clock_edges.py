"""The clock at its edges: every day of five centuries against datetime, MicroPython's tick wrap at 2**30,
the second an offset changes, a fall-back at midnight, and unknown-time minutes and anchors to the
second. Truth from datetime and MicroPython's documentation, not from the clock's own arithmetic."""
import datetime

from firmware.clock import Clock, civil_from_days, days_from_civil, ticks_diff

MICROPYTHON_TICKS_PERIOD = 2 ** 30  # time.ticks_ms() wraps at TICKS_MAX + 1 = 2**30 on ports with 31-bit small ints


class Ticks:
    def __init__(self, ms=0):
        self.ms = ms

    def __call__(self):
        return self.ms % MICROPYTHON_TICKS_PERIOD


def test_every_day_from_1600_to_2500_agrees_with_datetime():
    """Every leap rule and 400-year era edge (1600, 2000, 2400 leap; 1700, 1900, 2100 not)."""
    date = datetime.date(1600, 1, 1)
    days = (date - datetime.date(1970, 1, 1)).days
    while date.year <= 2500:
        assert days_from_civil(date.year, date.month, date.day) == days
        assert civil_from_days(days) == (date.year, date.month, date.day)
        date += datetime.timedelta(days=1)
        days += 1


def test_ticks_diff_across_micropythons_wrap_to_the_millisecond():
    for start in (0, 1, MICROPYTHON_TICKS_PERIOD - 1, MICROPYTHON_TICKS_PERIOD - 1001):
        for elapsed in (1, 999, 1001, 2 ** 29 - 1):
            end = (start + elapsed) % MICROPYTHON_TICKS_PERIOD
            assert ticks_diff(end, start) == elapsed
            assert ticks_diff(start, end) == -elapsed


def test_uptime_runs_on_across_a_wrap():
    ticks = Ticks(MICROPYTHON_TICKS_PERIOD - 1500)
    clock = Clock(ticks)
    ticks.ms += 3001
    assert clock.uptime_ms() == 3001


def test_the_new_offset_holds_from_the_second_of_the_change():
    clock = Clock(Ticks())
    change_s = 1_792_890_000
    clock.set_time(change_s - 3600, 7200, change_s, 3600)
    assert [clock.utc_offset_s(change_s + d) for d in (-1, 0, 1)] == [7200, 3600, 3600]


def test_a_fall_back_at_midnight_starts_the_day_at_the_second_midnight():
    """Where DST ends at 00:00 (Brazil until 2019), 00:00 comes twice; the first hour after the change
    is 23:xx of the day before, and the day begins at the second 00:00, an hour after the change."""
    day = days_from_civil(2019, 2, 17)
    change_s = day * 86400 + 2 * 3600  # 00:00 at UTC-2 becomes 23:00 at UTC-3
    ticks = Ticks()
    clock = Clock(ticks)
    clock.set_time(change_s - 600, -2 * 3600, change_s, -3 * 3600)
    assert clock.local_midnight_epoch_s(day) == change_s + 3600
    ticks.ms = (600 + 1800) * 1000  # 23:30 after the change: still the day before
    assert clock.place()[:3] == (True, day - 1, 24 * 60 + 30)
    ticks.ms = (600 + 3600 + 60) * 1000
    assert clock.place() == (True, day, 1, change_s + 3600)


def test_an_unknown_time_minute_is_placed_ago_s_before_now():
    ticks = Ticks()
    clock = Clock(ticks)
    ticks.ms = 90_000  # 1 min 30 s after boot: 30 s ago was in minute 1
    assert clock.place(30) == (False, 0, 1, 0)
    ticks.ms = 86_420_000  # 20 s into the second day of uptime: 30 s ago was in the first
    assert clock.place(30) == (False, 0, 1439, 0)


def test_the_anchor_is_the_uptime_in_whole_seconds_when_the_clock_was_set():
    ticks = Ticks()
    clock = Clock(ticks)
    ticks.ms = 3_600_999
    clock.set_time(1_772_900_000, 3600)
    assert clock.anchor() == (3600, 1_772_900_000)
