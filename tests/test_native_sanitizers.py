"""Build the C kernels' standalone test program under ASan + UBSan and run it.

The program (csrc/tests/test_kernels.c) checks the RFC 8439 vectors, every
available ISA variant of the mask kernels against a scalar reference, the
GF(2^61 - 1) field kernels against a slow reference, ristretto255 (field identities,
the RFC 9496 vectors, scalar edge cases, group laws, both multi-scalar multiplications
against the plain sum; csrc/ristretto.c is #included by the harness to reach its static
helpers), and the argument checks.
Any memory error or undefined behaviour aborts it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
VECTORS = pathlib.Path(__file__).resolve().parent / "vectors" / "rfc8439.json"

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
WARN = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror"]


def _compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        if os.environ.get("CI"):
            pytest.fail("no C compiler found: the sanitizer run is required in CI")
        pytest.skip("no C compiler available")
    return cc


def _vector_args() -> list[str]:
    data = json.loads(VECTORS.read_text())
    args: list[str] = []
    for vec in data["block"]:
        args += [vec["key"], vec["nonce"], str(vec["counter"]), vec["keystream"]]
    for vec in data["encrypt"]:
        stream = bytes(
            p ^ c
            for p, c in zip(
                bytes.fromhex(vec["plaintext"]), bytes.fromhex(vec["ciphertext"]), strict=True
            )
        )
        args += [vec["key"], vec["nonce"], str(vec["counter"]), stream.hex()]
    return args


@pytest.fixture(scope="module")
def sanitized_binary(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("asan") / "test_kernels"
    sources = [
        CSRC / "tests" / "test_kernels.c",
        CSRC / "chacha20.c",
        CSRC / "mask.c",
        CSRC / "mask_portable.c",
        CSRC / "mask_avx2.c",
        CSRC / "mask_avx512.c",
        CSRC / "field.c",
    ]
    cmd = [
        _compiler(),
        "-std=c11",
        "-O1",
        "-g",
        *SANITIZE,
        *WARN,
        "-Wno-sign-conversion",
        f"-I{CSRC}",
        *map(str, sources),
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"sanitizer build failed:\n{proc.stderr}"
    return out


def test_c_kernels_under_asan_and_ubsan(sanitized_binary: pathlib.Path) -> None:
    env = dict(os.environ)
    # Leak checking needs ptrace, which some sandboxes forbid; memory and UB checks stay on.
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:strict_string_checks=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    proc = subprocess.run(
        [str(sanitized_binary), *_vector_args()],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"C kernel tests failed:\n{proc.stdout}\n{proc.stderr}"
    assert "0 failures" in proc.stdout
    assert "runtime error" not in proc.stderr


def test_sanitizer_harness_detects_a_wrong_vector(sanitized_binary: pathlib.Path) -> None:
    # The harness must be able to fail: feed it a vector with one flipped byte.
    args = _vector_args()[:4]
    args[3] = ("00" if args[3][:2] != "00" else "01") + args[3][2:]
    proc = subprocess.run(
        [str(sanitized_binary), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "known-answer vector" in proc.stderr
