"""Per-day numbers of recordings, one file at a time, and batches of files on local processes or a Dask cluster.
The day rules are dayrules.py's, the detector replay.py's; this module only places minutes and bouts on the
recording's calendar and farms files out."""
import collections
import datetime
import multiprocessing
import warnings

from . import dayrules, replay
from .errors import UserError
from .firmware import store

EPOCH_DATE = datetime.date(1970, 1, 1)


def local_date(wall_clock_s):
    """The calendar date of a device wall-clock time (seconds since 1970 on the device's local clock)."""
    return EPOCH_DATE + datetime.timedelta(days=int(wall_clock_s // 86400))


def result_days(result, valid_worn_min=dayrules.VALID_WORN_MIN):
    """[{"date", **Day.numbers()}] per calendar day of a research file's replay result, in date order."""
    days = collections.defaultdict(dayrules.Day)
    for minute in result["minutes"]:
        day = days[local_date(result["start_s"] + minute["t_s"])]
        day.add_minute(minute["walk_s"], minute["steps"], _PACE_OF_NAME[minute["pace"]],
                       store.movement_code(minute["movement"]))
    for bout in result["bouts"]:
        day = days[local_date(result["start_s"] + bout["start_s"])]
        day.bouts += 1
        day.longest_bout_s = max(day.longest_bout_s, round(bout["end_s"] - bout["start_s"]))
    return [{"date": date.isoformat(), **days[date].numbers(valid_worn_min)} for date in sorted(days)]


_PACE_OF_NAME = {name: pace for pace, name in dayrules.PACE_NAMES.items()}


def file_days(path, rate_mhz, engine, valid_worn_min):
    """{"file", "days", "summary", "warnings"} of one recording, or {"file", "error"} for one that cannot be read:
    the function a batch runs on every file, on whichever machine."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = replay.run_file(path, rate_mhz, engine)
    except (UserError, OSError) as exc:
        return {"file": path, "error": str(exc)}
    except Exception as exc:  # one bad file of thousands must not end the batch: name it and go on
        return {"file": path, "error": f"{path}: {type(exc).__name__}: {exc}"}
    if "start_s" not in result:
        return {"file": path, "error": f"{path}: a t,x,y,z CSV has no calendar time; days need a .cwa, .gt3x or "
                                      ".bin recording"}
    days = result_days(result, valid_worn_min)
    return {"file": path, "days": days, "summary": dayrules.mean_of_valid(days),
            "warnings": [str(w.message) for w in caught]}


def _file_days_job(args):
    return file_days(*args)


def run_local(paths, jobs, *options):
    """file_days of every path on `jobs` local processes; yields each as it completes."""
    work = [(path, *options) for path in paths]
    if jobs <= 1 or len(work) <= 1:
        yield from map(_file_days_job, work)
        return
    with multiprocessing.Pool(jobs) as pool:
        yield from pool.imap_unordered(_file_days_job, work)


def run_dask(paths, scheduler, *options):
    """file_days of every path on the Dask cluster at `scheduler` (tcp://HOST:PORT); yields each as it completes."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UserError(f"--dask-scheduler {scheduler}: needs distributed; pip install 'walkdose[dask]'") from None
    try:
        client = Client(scheduler, timeout=10)
    except OSError as exc:
        raise UserError(f"--dask-scheduler {scheduler}: no scheduler answers ({exc})") from None
    with client:
        futures = [client.submit(file_days, path, *options, pure=False) for path in paths]
        for future in as_completed(futures):
            yield future.result()
