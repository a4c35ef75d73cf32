"""Declares the compiled modules: walkdose.detector, the firmware's own detector (firmware/detector.py) compiled by
Cython under the C types of host/detector.pxd, and the readers' per-sample loops (host/resample.pyx, host/cwa.pyx);
everything else is in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

# Compiled as the top-level "detector" so that Cython finds host/detector.pxd (it looks a .pxd up by module name on the
# include path, and walkdose/ is host/ only once installed); installed as walkdose.detector, where it imports at run time.
DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,  # the viper annotations (start: int) are MicroPython's; types come from the .pxd
    "infer_types": True,  # locals take the C types of what they are assigned, as viper's machine words do
    "boundscheck": False,  # every index is proven in range by the firmware's own invariants (tests/test_detector_bounds.py)
    "wraparound": False,
    "initializedcheck": False,
}
extensions = cythonize([Extension("detector", ["firmware/detector.py"])], include_path=["host"],
                       compiler_directives=DIRECTIVES)
extensions[0].name = "walkdose.detector"
# The readers' loops must round as numpy does, operation for operation: no fused multiply-add.
READERS = {"language_level": 3, "boundscheck": False, "wraparound": False, "initializedcheck": False, "cdivision": True}
extensions += cythonize([Extension(f"walkdose.{name}", [f"host/{name}.pyx"], extra_compile_args=["-ffp-contract=off"])
                         for name in ("resample", "cwa")], compiler_directives=READERS)
setup(ext_modules=extensions)
