"""cffi build script (out-of-line API mode) for privkit's C kernels.

setup.py points ``cffi_modules`` here; ``pip install .`` and ``pip install -e .``
compile the extension ``privkit._native._pk_native`` with the machine's C compiler.
The cdef is read from the one header, csrc/privkit.h, between its CDEF markers,
so the compiler and cffi see the same declarations.

No ``-march=native``: the AVX2 and AVX-512 kernels are compiled through
per-function ``target`` attributes and chosen at run time from the CPU's
features, so a wheel built here runs on any x86-64 machine.
"""

from __future__ import annotations

import pathlib
import sys

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

SOURCES = [
    "chacha20.c",
    "mask.c",
    "mask_portable.c",
    "mask_avx2.c",
    "mask_avx512.c",
    "field.c",
    "ristretto.c",
]

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"]


def read_cdef(header: pathlib.Path) -> str:
    """Return the declarations between the BEGIN/END CDEF markers of ``header``."""
    text = header.read_text(encoding="utf-8")
    begin, end = "/* BEGIN CDEF */", "/* END CDEF */"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise RuntimeError(f"{header} must contain exactly one {begin} ... {end} section")
    return text.split(begin, 1)[1].split(end, 1)[0]


def _relative(path: pathlib.Path) -> str:
    # setuptools wants source paths relative to the project root.
    try:
        return str(path.relative_to(pathlib.Path.cwd()))
    except ValueError:
        return str(path)


ffibuilder = FFI()
ffibuilder.cdef(read_cdef(HERE / "privkit.h"))
ffibuilder.set_source(
    "privkit._native._pk_native",
    '#include "privkit.h"\n',
    sources=[_relative(HERE / name) for name in SOURCES],
    include_dirs=[_relative(HERE)],
    extra_compile_args=["-std=c11", "-O3", "-fno-strict-aliasing", *WARNINGS]
    if sys.platform != "win32"
    else [],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "cffi"), verbose=True)
