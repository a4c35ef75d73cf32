"""Wall clock for a board without an RTC: the host sets epoch time and UTC offset at each sync, the
clock keeps time from a wrapping millisecond tick. Pure integer date arithmetic; never calls
time.localtime() and never reads a file."""
from .compat import const

TICKS_PERIOD = const(1 << 30)  # MicroPython's ticks_ms() wraps at 2**30 ms (12.4 days)
_TICKS_HALF = const(1 << 29)
SECONDS_PER_DAY = const(86400)
NO_CHANGE = const(-1)  # next_change_epoch_s when the host knows of no offset change
# Days a set time may fall on: no board runs this firmware before it was built (raise it at a release),
# and up to 2100 every epoch, day key and start_s fits the store's u32 fields (which end in 2106).
BUILD_DAY = const(20454)  # 2026-01-01
END_DAY = const(47482)  # 2100-01-01


def ticks_diff(end, start):
    """end - start in ms for two ticks_ms() readings less than 2**29 ms apart (time.ticks_diff)."""
    return ((end - start + _TICKS_HALF) & (TICKS_PERIOD - 1)) - _TICKS_HALF


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, 'chrono-compatible
    low-level date algorithms')."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days):
    """(year, month, day) of a day count since 1970-01-01; inverse of days_from_civil."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + (3 if month_index < 10 else -9)
    return year_of_era + era * 400 + (1 if month <= 2 else 0), month, day


def settable(epoch_s):
    """True for a UTC epoch the host may set: on a day in [BUILD_DAY, END_DAY)."""
    return BUILD_DAY <= epoch_s // SECONDS_PER_DAY < END_DAY


class Clock:
    """Uptime from ticks, and local time once the host has set it during this boot.

    uptime_ms() must be called at least every 2**29 ms (6.2 days); the store calls it every minute.
    """

    def __init__(self, ticks_ms):
        self._ticks_ms = ticks_ms
        self._last_ticks = ticks_ms()
        self._uptime_ms = 0
        self._set_uptime_ms = -1  # uptime at the host's last set_time(); -1: not set since boot
        self._set_epoch_s = 0
        self._offset_s = 0
        self._next_change_epoch_s = NO_CHANGE
        self._next_offset_s = 0

    def uptime_ms(self):
        now = self._ticks_ms()
        self._uptime_ms += ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._uptime_ms

    def set_time(self, epoch_s, utc_offset_s, next_change_epoch_s=NO_CHANGE, next_offset_s=0):
        """The host's sync: UTC epoch seconds now, the UTC offset in force, and the next offset
        change it knows of (a DST transition) so that a day with a change is timed right."""
        self._set_uptime_ms = self.uptime_ms()
        self._set_epoch_s = epoch_s
        self._offset_s = utc_offset_s
        self._next_change_epoch_s = next_change_epoch_s
        self._next_offset_s = next_offset_s

    def is_set(self):
        return self._set_uptime_ms >= 0

    def anchor(self):
        """(uptime_s, epoch_s) of the last set_time() of this boot; the host uses it to place the
        unknown-time segments recorded before it."""
        return self._set_uptime_ms // 1000, self._set_epoch_s

    def epoch_s(self):
        return self._set_epoch_s + (self.uptime_ms() - self._set_uptime_ms) // 1000

    def utc_offset_s(self, epoch_s):
        if self._next_change_epoch_s != NO_CHANGE and epoch_s >= self._next_change_epoch_s:
            return self._next_offset_s
        return self._offset_s

    def local_midnight_epoch_s(self, day):
        """UTC epoch of the first second of local day `day` (days since 1970-01-01 local)."""
        start_s = day * SECONDS_PER_DAY
        before_change = start_s - self._offset_s
        if self._next_change_epoch_s == NO_CHANGE or before_change < self._next_change_epoch_s:
            return before_change
        after_change = start_s - self._next_offset_s
        if after_change >= self._next_change_epoch_s:
            return after_change
        return self._next_change_epoch_s  # the change skipped midnight: the day starts at it

    def place(self, ago_s=0):
        """Where the instant ago_s seconds before now belongs.

        Known time:   (True, local_day, minute_since_local_midnight, midnight_epoch_s)
        Unknown time: (False, part, minute_in_part, part_start_uptime_s); a part is one day of
        uptime, so a boot without a sync is cut into day-long segments.
        Minutes count elapsed time since midnight, so a day has 1380, 1440 or 1500 of them on DST
        changes rather than a repeated or missing hour.
        """
        if not self.is_set():
            uptime_s = max(0, self.uptime_ms() // 1000 - ago_s)  # nothing happened before the boot
            part = uptime_s // SECONDS_PER_DAY
            start_s = part * SECONDS_PER_DAY
            return False, part, (uptime_s - start_s) // 60, start_s
        epoch_s = self.epoch_s() - ago_s
        day = (epoch_s + self.utc_offset_s(epoch_s)) // SECONDS_PER_DAY
        midnight_s = self.local_midnight_epoch_s(day)
        return True, day, (epoch_s - midnight_s) // 60, midnight_s
