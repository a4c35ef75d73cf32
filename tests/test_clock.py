"""The clock without an RTC: civil dates, tick wrap, unknown time, host time changes, DST days.
Truth comes from Python's datetime and zoneinfo, not from the clock's own arithmetic."""
import datetime
import zoneinfo

from hypothesis import given, strategies as st

from firmware.clock import TICKS_PERIOD, Clock, civil_from_days, days_from_civil, ticks_diff

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


class Ticks:
    """A ticks_ms() source the test moves by hand; wraps at 2**30 like MicroPython's."""

    def __init__(self, ms=0):
        self.ms = ms

    def __call__(self):
        return self.ms % TICKS_PERIOD


def epoch(year, month, day, hour=0, minute=0, tz=datetime.timezone.utc):
    return int(datetime.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp())


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2200, 12, 31)))
def test_civil_days_agree_with_datetime(date):
    days = (date - datetime.date(1970, 1, 1)).days
    assert days_from_civil(date.year, date.month, date.day) == days
    assert civil_from_days(days) == (date.year, date.month, date.day)


def test_ticks_diff_across_the_wrap():
    assert ticks_diff(5, TICKS_PERIOD - 5) == 10
    assert ticks_diff(TICKS_PERIOD - 5, 5) == -10


def test_uptime_survives_three_tick_wraps():
    ticks = Ticks(TICKS_PERIOD - 60_000)
    clock = Clock(ticks)
    for _ in range(40 * 24 * 60):  # 40 days, read once a minute as the store does
        ticks.ms += 60_000
        clock.uptime_ms()
    assert clock.uptime_ms() == 40 * 86_400_000


def test_unknown_time_is_placed_by_uptime_in_day_long_parts():
    ticks = Ticks(123)
    clock = Clock(ticks)
    ticks.ms += (86_400 + 3_600 + 125) * 1000
    assert clock.place() == (False, 1, 62, 86_400)
    assert not clock.is_set()


def test_a_minute_placed_just_after_boot_belongs_to_the_first_part():
    ticks = Ticks(5)
    clock = Clock(ticks)
    ticks.ms += 10_000  # 10 s up; 30 s ago was before the boot
    assert clock.place(30) == (False, 0, 0, 0)


def test_local_day_and_minute_after_set_time():
    ticks = Ticks()
    clock = Clock(ticks)
    now = epoch(2026, 7, 14, 21, 59)  # 23:59 in Berlin (CEST, +2 h)
    clock.set_time(now, 7200)
    day = days_from_civil(2026, 7, 14)
    midnight = epoch(2026, 7, 14, tz=BERLIN)
    assert clock.place() == (True, day, 23 * 60 + 59, midnight)
    ticks.ms += 60_000
    assert clock.place() == (True, day + 1, 0, midnight + 86_400)
    assert clock.anchor() == (0, now)


def test_host_sets_time_backwards_and_forwards():
    ticks = Ticks()
    clock = Clock(ticks)
    clock.set_time(epoch(2026, 7, 14, 10, 0), 0)
    ticks.ms += 30 * 60_000
    clock.set_time(epoch(2026, 7, 14, 10, 5), 0)  # the board ran 25 minutes fast
    assert clock.place()[1:3] == (days_from_civil(2026, 7, 14), 10 * 60 + 5)
    ticks.ms += 60_000
    clock.set_time(epoch(2026, 7, 16, 8, 0), 0)  # and now days slow
    assert clock.place()[1:3] == (days_from_civil(2026, 7, 16), 8 * 60)


def _minutes_in_local_day(year, month, day):
    start = datetime.datetime(year, month, day, tzinfo=BERLIN)
    return int((start + datetime.timedelta(days=1)).timestamp() - start.timestamp()) // 60


def _last_minute_of_day(change_utc, offset_before, offset_after, year, month, day):
    ticks = Ticks()
    clock = Clock(ticks)
    clock.set_time(epoch(year, month, day, 0, 0, BERLIN), offset_before, change_utc, offset_after)
    last = epoch(year, month, day, tz=BERLIN) + 86_400 * 2
    previous = None  # the first place() is on the day itself, so this is set before it is returned
    while True:
        known, key, minute, midnight = clock.place()
        if key != days_from_civil(year, month, day):
            return previous
        previous = minute, midnight
        ticks.ms += 60_000
        assert clock.epoch_s() < last


def test_fall_back_day_has_1500_minutes():
    change = epoch(2026, 10, 25, 1, 0)  # 03:00 CEST becomes 02:00 CET
    minute, midnight = _last_minute_of_day(change, 7200, 3600, 2026, 10, 25)
    assert minute + 1 == _minutes_in_local_day(2026, 10, 25) == 1500
    assert midnight == epoch(2026, 10, 25, tz=BERLIN)


def test_spring_forward_day_has_1380_minutes():
    change = epoch(2026, 3, 29, 1, 0)  # 02:00 CET becomes 03:00 CEST
    minute, midnight = _last_minute_of_day(change, 3600, 7200, 2026, 3, 29)
    assert minute + 1 == _minutes_in_local_day(2026, 3, 29) == 1380
    assert midnight == epoch(2026, 3, 29, tz=BERLIN)
