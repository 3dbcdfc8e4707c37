"""Build hook: setuptools needs setup.py only to pass ``cffi_modules``.

All metadata lives in pyproject.toml.  The C extension is compiled by cffi in
out-of-line API mode from csrc/ (see csrc/build_ffi.py).
"""

from setuptools import setup

setup(cffi_modules=["csrc/build_ffi.py:ffibuilder"])
