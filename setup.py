"""Declares the one compiled module, walkdose.detector (host/detector.pyx); everything else is in pyproject.toml.
The Cython directives that decide its integer semantics sit at the top of the .pyx, beside the code relying on them."""
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize([Extension("walkdose.detector", ["host/detector.pyx"])]))
