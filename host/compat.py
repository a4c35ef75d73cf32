"""Where the compiled detector finds the firmware's CPython stand-ins: Cython builds firmware/detector.py into
walkdose.detector, so its relative imports (`from .compat import ...`) resolve in this package, not in firmware/."""
from .firmware.compat import const, native, ptr8, ptr16, ptr32, viper

__all__ = ["const", "native", "ptr8", "ptr16", "ptr32", "viper"]
