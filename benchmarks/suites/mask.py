"""Suite ``mask``: the SecAgg mask-expansion hot path.

A SecAgg client with k neighbours (or a server recovering a dropped client)
expands k 32-byte seeds into k pseudorandom vectors of the model's length n and
adds or subtracts each into a uint32 accumulator.  Every case here does exactly
that: k masks of n words into one accumulator.

Implementations:

* ``privkit``: ``privkit.prg.mask_add(acc, seeds, signs)``, the C kernel,
  ChaCha20, all k seeds applied tile by tile in one pass over ``acc``, with
  its default threading (every usable core once the job is large enough).
* ``privkit-1thread``: the same call with ``threads=1``; not an anchor, but the
  per-core comparison with the anchors, which all run on one core.
* ``chacha20-cryptography``: the same cipher from the ``cryptography`` package
  (OpenSSL's vectorised ChaCha20), one keystream of 4n bytes per seed written
  with ``update_into`` into a reused buffer (so the anchor is not charged for
  page-faulting a fresh 4n-byte object per seed), then a numpy add or
  subtract.  The anchor that answers "is the C kernel worth it over the
  obvious secure implementation?".
* ``numpy-pcg64``: numpy's fastest generator, PCG64, seeded with the whole seed.
  Not a cryptographic PRG (must not be used for masks); it shows what a fast
  non-cryptographic generator costs.
* ``numpy-mt19937-flower``: what Flower's SecAgg+ does per neighbour
  (``flwr.common.secure_aggregation.secaggplus_utils.pseudo_rand_gen``): the
  seed folded to 32 bits by XOR of its words, ``numpy.random.RandomState`` (a
  Mersenne Twister), ``randint`` into int64, summed into an int64 accumulator,
  one ``mod 2^32`` at the end.  Insecure (32-bit seed, predictable generator);
  the anchor for what a federated-learning user runs today.

Cross-checks (untimed): privkit's mask words are ChaCha20's keystream words in
privkit's own order, so for n a multiple of 256 the sorted mask of one seed
equals the sorted ``cryptography`` keystream; a mask added then subtracted
cancels; k seeds in one call equal k calls of one seed; the threaded and
single-threaded paths agree.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from benchmarks.core import Case, Check, Suite, SuiteUnavailableError, Target

__all__ = ["SUITE", "MaskSuite"]

N_FULL = 1_000_000
N_QUICK = 50_000
K_FULL = (1, 10, 100)
K_QUICK = (1, 4)
#: Lengths of the multiset cross-check (multiples of 256 words).
CHECK_N_FULL = 1 << 16
CHECK_N_QUICK = 1 << 12

MaskAdd = Callable[..., None]
U32Array = npt.NDArray[np.uint32]


def _draw_seeds(k: int) -> list[bytes]:
    """Draw k fresh 32-byte seeds from the OS CSPRNG (tests may replace this)."""
    return [os.urandom(32) for _ in range(k)]


def _signs(k: int) -> list[int]:
    """Alternating signs +1, -1, +1, ... of length k."""
    return [1 if i % 2 == 0 else -1 for i in range(k)]


def _chacha20_cipher(seed: bytes) -> Cipher[None]:
    """cryptography's ChaCha20 for key ``seed``, block counter 0 and a zero nonce."""
    # cryptography's 16-byte ChaCha20 nonce: 4-byte LE block counter, then the 12-byte nonce.
    return Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None)


def _chacha20_words(seed: bytes, zeros: bytes) -> U32Array:
    """ChaCha20 keystream (key ``seed``, block counter 0, zero nonce) as LE uint32 words.

    Args:
        seed: the 32-byte key.
        zeros: ``4 n`` zero bytes (encrypting zeros yields the keystream).

    Returns:
        n words, a read-only view of the keystream.
    """
    return np.frombuffer(_chacha20_cipher(seed).encryptor().update(zeros), dtype="<u4")


def _flower_seed32(seed: bytes) -> int:
    """Flower's SecAgg+ fold of a seed to 32 bits: XOR of its little-endian words."""
    seed32 = 0
    for i in range(0, len(seed), 4):
        seed32 ^= int.from_bytes(seed[i : i + 4], "little")
    return seed32


class MaskSuite(Suite):
    """SecAgg mask expansion: k seeded masks of n uint32 words into one accumulator."""

    name = "mask"
    description = "SecAgg mask expansion: add/subtract k seeded masks into n uint32 words"
    unit = "word"
    reference = "privkit"
    implementations = (
        "privkit",
        "privkit-1thread",
        "chacha20-cryptography",
        "chacha20-cryptography-update",
        "numpy-pcg64",
        "numpy-mt19937-flower",
    )
    anchors: ClassVar[Mapping[str, str]] = {
        "privkit-1thread": (
            "not an anchor: privkit.prg.mask_add(..., threads=1), the same kernel on one core "
            "(privkit's default uses every core for large jobs; the anchors use one)"
        ),
        "chacha20-cryptography": (
            "per seed: cryptography ChaCha20 (OpenSSL) keystream of 4n bytes, update_into "
            "a reused buffer viewed as '<u4', acc += / -= (uint32 wraps)"
        ),
        "chacha20-cryptography-update": (
            "per seed: the plain form, np.frombuffer(encryptor().update(bytes(4n)), '<u4') "
            "then acc += / -=; pays for a fresh 4n-byte keystream object per seed"
        ),
        "numpy-pcg64": (
            "per seed: numpy Generator(PCG64(seed as int)).integers(0, 2**32, n, uint32), "
            "acc += / -=; not cryptographic"
        ),
        "numpy-mt19937-flower": (
            "Flower SecAgg+ pseudo_rand_gen: RandomState(32-bit XOR fold of the seed)"
            ".randint(0, 2**32, n, int64) into an int64 accumulator, mod 2**32 at the end; "
            "not cryptographic"
        ),
    }
    targets = (
        Target(vs="chacha20-cryptography", case="k=100", min_ratio=1.5),
        Target(vs="numpy-mt19937-flower", case="k=100", min_ratio=5.0),
    )
    repeats = 11
    quick_repeats = 3

    def __init__(self) -> None:
        """Create the suite; nothing is imported until :meth:`prepare`."""
        self._mask_add: MaskAdd | None = None
        self._has_threads = False
        self._quick = False

    def prepare(self) -> None:
        """Import privkit's kernel.

        Raises:
            SuiteUnavailableError: ``privkit.prg`` (the built C extension)
                cannot be imported.
        """
        try:
            prg = importlib.import_module("privkit.prg")
        except Exception as exc:  # ImportError, or the extension's own import check
            raise SuiteUnavailableError(
                f"privkit.prg cannot be imported ({type(exc).__name__}: {exc}); "
                "build the extension first: pip install -e ."
            ) from exc
        self._mask_add = prg.mask_add
        self._has_threads = "threads" in inspect.signature(prg.mask_add).parameters

    @property
    def _kernel(self) -> MaskAdd:
        """privkit's ``mask_add``, once :meth:`prepare` has run."""
        if self._mask_add is None:
            raise RuntimeError("MaskSuite.prepare() must run before the suite is used")
        return self._mask_add

    def cases(self, *, quick: bool) -> Sequence[Case]:
        """One case per k, at n = 1,000,000 words (quick: 50,000 and k in (1, 4)).

        Args:
            quick: smoke-test sizes.

        Returns:
            The cases ``k=1``, ``k=10``, ``k=100`` (quick: ``k=1``, ``k=4``).
        """
        self._quick = quick
        n = N_QUICK if quick else N_FULL
        ks = K_QUICK if quick else K_FULL
        return [
            Case(name=f"k={k}", work=float(n * k), params={"n": n, "k": k, "dtype": "uint32"})
            for k in ks
        ]

    def setup(self, case: Case) -> Mapping[str, Callable[[], object]]:
        """Draw k random seeds (os.urandom) and build each implementation's job.

        Args:
            case: a case from :meth:`cases`.

        Returns:
            One callable per implementation, each adding the k masks (signs
            alternating +1, -1) into its own uint32 accumulator of n words and
            returning that accumulator.
        """
        n = int(case.params["n"])
        k = int(case.params["k"])
        seeds = _draw_seeds(k)
        signs = _signs(k)
        mask_add = self._kernel

        seed_blob = b"".join(seeds)
        sign_arr = np.array(signs, dtype=np.int8)
        acc_privkit = np.zeros(n, dtype=np.uint32)

        def run_privkit() -> U32Array:
            mask_add(acc_privkit, seed_blob, sign_arr)
            return acc_privkit

        acc_privkit_1t = np.zeros(n, dtype=np.uint32)

        def run_privkit_1thread() -> U32Array:
            mask_add(acc_privkit_1t, seed_blob, sign_arr, threads=1)
            return acc_privkit_1t

        zeros = bytes(4 * n)
        keystream = bytearray(4 * n)
        words = np.frombuffer(keystream, dtype="<u4")
        acc_chacha = np.zeros(n, dtype=np.uint32)

        def run_chacha() -> U32Array:
            for seed, sign in zip(seeds, signs, strict=True):
                # update_into a reused buffer: the anchor pays for ChaCha20, not for
                # faulting in a fresh 4n-byte output object per seed.
                _chacha20_cipher(seed).encryptor().update_into(zeros, keystream)
                if sign > 0:
                    np.add(acc_chacha, words, out=acc_chacha)
                else:
                    np.subtract(acc_chacha, words, out=acc_chacha)
            return acc_chacha

        acc_chacha_update = np.zeros(n, dtype=np.uint32)

        def run_chacha_update() -> U32Array:
            for seed, sign in zip(seeds, signs, strict=True):
                stream = _chacha20_words(seed, zeros)
                if sign > 0:
                    np.add(acc_chacha_update, stream, out=acc_chacha_update)
                else:
                    np.subtract(acc_chacha_update, stream, out=acc_chacha_update)
            return acc_chacha_update

        acc_pcg = np.zeros(n, dtype=np.uint32)
        pcg_seeds = [int.from_bytes(seed, "little") for seed in seeds]

        def run_pcg() -> U32Array:
            for seed_int, sign in zip(pcg_seeds, signs, strict=True):
                gen = np.random.Generator(np.random.PCG64(seed_int))
                words = gen.integers(0, 2**32, size=n, dtype=np.uint32)
                if sign > 0:
                    np.add(acc_pcg, words, out=acc_pcg)
                else:
                    np.subtract(acc_pcg, words, out=acc_pcg)
            return acc_pcg

        acc_flower = np.zeros(n, dtype=np.uint32)

        def run_flower() -> U32Array:
            total = acc_flower.astype(np.int64)
            for seed, sign in zip(seeds, signs, strict=True):
                rs = np.random.RandomState(_flower_seed32(seed))
                mask = rs.randint(0, 2**32, size=n, dtype=np.int64)
                if sign > 0:
                    total += mask
                else:
                    total -= mask
            np.mod(total, 2**32, out=total)
            acc_flower[...] = total
            return acc_flower

        jobs: dict[str, Callable[[], object]] = {"privkit": run_privkit}
        if self._has_threads:
            jobs["privkit-1thread"] = run_privkit_1thread
        jobs["chacha20-cryptography"] = run_chacha
        jobs["chacha20-cryptography-update"] = run_chacha_update
        jobs["numpy-pcg64"] = run_pcg
        jobs["numpy-mt19937-flower"] = run_flower
        return jobs

    def checks(self, *, quick: bool) -> Sequence[Check]:
        """Cross-check privkit's kernel against cryptography and against itself.

        Args:
            quick: use the small sizes.

        Returns:
            ``multiset_vs_cryptography`` (k=1, sign +1, zero accumulator, n a
            multiple of 256: sorted mask == sorted cryptography keystream words,
            for two seeds), ``add_then_subtract_cancels`` and
            ``one_pass_equals_sequential`` (both at the suite's n, which is not a
            multiple of 256, so the tail is covered) and, when ``mask_add`` takes
            ``threads``, ``threads_agree`` (1, 2 and the default number of
            threads give the same accumulator at n = 1,000,000).
        """
        mask_add = self._kernel
        out: list[Check] = []

        n_check = CHECK_N_QUICK if quick else CHECK_N_FULL
        mismatches = 0
        zero_masks = 0
        for _ in range(2):
            (seed,) = _draw_seeds(1)
            acc = np.zeros(n_check, dtype=np.uint32)
            mask_add(acc, seed, [1])
            expected = _chacha20_words(seed, bytes(4 * n_check))
            zero_masks += int(not acc.any())
            if not np.array_equal(np.sort(acc), np.sort(expected)):
                mismatches += 1
        out.append(
            Check(
                "multiset_vs_cryptography",
                mismatches == 0 and zero_masks == 0,
                {"n": n_check, "seeds": 2, "mismatching_seeds": mismatches},
            )
        )

        n = N_QUICK if quick else N_FULL
        rng = np.random.default_rng()  # test data only, not a secret
        start = rng.integers(0, 2**32, size=n, dtype=np.uint32)
        (seed,) = _draw_seeds(1)
        acc = start.copy()
        mask_add(acc, seed, [1])
        changed = not np.array_equal(acc, start)
        mask_add(acc, seed, [-1])
        out.append(
            Check(
                "add_then_subtract_cancels",
                changed and np.array_equal(acc, start),
                {"n": n, "mask_changed_acc": changed},
            )
        )

        k = 4
        seeds = _draw_seeds(k)
        signs = _signs(k)
        one_pass = start.copy()
        mask_add(one_pass, b"".join(seeds), np.array(signs, dtype=np.int8))
        sequential = start.copy()
        for s, sign in zip(seeds, signs, strict=True):
            mask_add(sequential, s, [sign])
        out.append(
            Check(
                "one_pass_equals_sequential",
                bool(np.array_equal(one_pass, sequential)),
                {"n": n, "k": k},
            )
        )

        if self._has_threads:
            # Large enough for the default to fan out over threads (chunk offsets).
            n_threads = N_FULL
            start_full = np.zeros(n_threads, dtype=np.uint32)
            one_thread = start_full.copy()
            mask_add(one_thread, b"".join(seeds), np.array(signs, dtype=np.int8), threads=1)
            two_threads = start_full.copy()
            mask_add(two_threads, b"".join(seeds), np.array(signs, dtype=np.int8), threads=2)
            default = start_full.copy()
            mask_add(default, b"".join(seeds), np.array(signs, dtype=np.int8))
            out.append(
                Check(
                    "threads_agree",
                    bool(
                        np.array_equal(one_thread, two_threads)
                        and np.array_equal(one_thread, default)
                    ),
                    {"n": n_threads, "k": k, "threads": [1, 2, "default"]},
                )
            )
        return out

    def info(self) -> Mapping[str, Any]:
        """Suite parameters recorded in the JSON."""
        return {
            "n": N_QUICK if self._quick else N_FULL,
            "ks": list(K_QUICK if self._quick else K_FULL),
            "seeds": "os.urandom(32) per seed, fresh per case, shared by all implementations",
            "signs": "alternating +1, -1",
            "nonce": "12 zero bytes (cryptography: 16-byte nonce = LE counter 0 + 12 zero bytes)",
            "accumulator": "one uint32 array of n words per implementation, reused across calls",
            "privkit_threads": (
                "default (all usable cores for large jobs); privkit-1thread: threads=1"
                if self._has_threads
                else "mask_add has no threads parameter"
            ),
        }


SUITE = MaskSuite()
