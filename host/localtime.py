"""The host's local time: its time zone, the local date and time of a UTC epoch, and the UTC offsets
a board is told. Reads $TZ and the C library's local time; never stores anything."""
import datetime
import os
import time
import zoneinfo

SECONDS_PER_DAY = 86400
DST_SEARCH_DAYS = 400  # every zone with DST changes at least once a year


def local_zone():
    """The host's time zone: a ZoneInfo when $TZ names one (Europe/Oslo), else None: the C library's
    local time, which follows /etc/localtime and POSIX $TZ strings (CET-1CEST,M3.5.0,M10.5.0/3)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return None


def local_time(epoch_s, zone):
    """The aware local datetime of a UTC epoch (zone None: the C library's, which reads $TZ)."""
    if zone is None:
        return datetime.datetime.fromtimestamp(epoch_s).astimezone()
    return datetime.datetime.fromtimestamp(epoch_s, zone)


def local_date(epoch_s, zone):
    """The local calendar date of a UTC epoch (zone None: the C library's, which reads $TZ)."""
    return local_time(epoch_s, zone).date()


def midnight_s(date, zone):
    """UTC epoch of the midnight that starts date in zone; with zone None UTC's midnight, which is close
    enough for callers that read a day's margin either side."""
    return int(datetime.datetime.combine(date, datetime.time(), zone or datetime.timezone.utc).timestamp())


def local_offsets(epoch_s):
    """(utc_offset_s now, epoch of the next offset change or None, offset after it) of the host's
    local time zone, which the TZ environment variable sets."""
    if hasattr(time, "tzset"):
        time.tzset()
    offset_s = time.localtime(epoch_s).tm_gmtoff
    for day in range(1, DST_SEARCH_DAYS + 1):
        later = epoch_s + day * SECONDS_PER_DAY
        if time.localtime(later).tm_gmtoff != offset_s:
            before, after = later - SECONDS_PER_DAY, later
            while after - before > 1:  # the first second of the new offset
                middle = (before + after) // 2
                if time.localtime(middle).tm_gmtoff == offset_s:
                    before = middle
                else:
                    after = middle
            return offset_s, after, time.localtime(after).tm_gmtoff
    return offset_s, None, offset_s
