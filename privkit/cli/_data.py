"""Data and model of ``privkit simulate``: scikit-learn's digits, Dirichlet splits, an MLP.

Everything here is demo data handling: the randomness is ``numpy.random`` seeded from
the command line so that a simulation is reproducible.  No secret comes from it (the
schemes draw their own secrets from the OS CSPRNG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from privkit._backends import require
from privkit.errors import ParameterError

__all__ = ["MLP_LAYERS", "Dataset", "dirichlet_split", "load_digits_split", "make_model"]

#: Layer widths of the simulated model (input, hidden, classes).
MLP_LAYERS = (64, 32, 10)


@dataclass(frozen=True)
class Dataset:
    """The digits data, split into a training pool and a held-out test set.

    Attributes:
        x_train: float32 features in [0, 1], shape (n, 64).
        y_train: int64 labels 0..9.
        x_test: held-out features.
        y_test: held-out labels.

    Security assumption: none; public demo data.
    """

    x_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.float32]
    y_test: npt.NDArray[np.int64]


def load_digits_split(seed: int, test_fraction: float = 0.25) -> Dataset:
    """Load scikit-learn's digits (shipped with the package, offline) and split it.

    Args:
        seed: seed of the shuffle (demo randomness).
        test_fraction: share of the samples held out for evaluation, in (0, 1).

    Returns:
        A :class:`Dataset` with pixel values scaled to [0, 1].

    Raises:
        BackendUnavailableError: scikit-learn is not installed.
        ParameterError: test_fraction outside (0, 1).

    Security assumption: none; public demo data.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    datasets = require("sklearn.datasets", feature="privkit simulate (the digits data set)")
    bunch = datasets.load_digits()
    x = np.asarray(bunch.data, dtype=np.float32) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return Dataset(x[train], y[train], x[test], y[test])


def dirichlet_split(
    labels: npt.NDArray[np.int64], n_clients: int, alpha: float, seed: int, min_size: int = 8
) -> list[npt.NDArray[np.int64]]:
    """Split sample indices among clients, non-IID: class shares drawn from Dirichlet(alpha).

    For every class, the class's samples are divided among the clients in proportions
    drawn from ``Dirichlet(alpha, ..., alpha)`` (small alpha: each client sees few
    classes; large alpha: close to IID).  Draws are repeated (up to 100 times) until
    every client has at least ``min_size`` samples.

    Args:
        labels: the labels of the pool.
        n_clients: number of clients, >= 1.
        alpha: concentration, > 0.
        seed: seed of the draws (demo randomness).
        min_size: the fewest samples a client may get.

    Returns:
        One index array per client (disjoint, covering the pool).

    Raises:
        ParameterError: invalid arguments, or no split with min_size samples per client.

    Security assumption: none; public demo data.
    """
    if n_clients < 1:
        raise ParameterError(f"n_clients must be >= 1, got {n_clients}")
    if not alpha > 0.0:
        raise ParameterError(f"alpha must be > 0, got {alpha!r}")
    if n_clients * min_size > len(labels):
        raise ParameterError(
            f"{n_clients} clients need at least {n_clients * min_size} samples; the pool "
            f"has {len(labels)}: use fewer clients"
        )
    rng = np.random.default_rng(seed)
    for _ in range(100):
        parts: list[list[int]] = [[] for _ in range(n_clients)]
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            shares = rng.dirichlet(np.full(n_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for client, chunk in enumerate(np.split(idx, cuts)):
                parts[client].extend(int(i) for i in chunk)
        if min(len(p) for p in parts) >= min_size:
            return [np.array(sorted(p), dtype=np.int64) for p in parts]
    raise ParameterError(
        f"could not split the data so that each of {n_clients} clients gets {min_size} "
        f"samples with alpha={alpha}: raise --alpha or use fewer clients"
    )


def make_model(seed: int) -> Any:
    """The simulated model: an MLP 64-32-10 with ReLU, initialised from ``seed``.

    Returns:
        A ``torch.nn.Sequential`` (float32).

    Raises:
        BackendUnavailableError: torch is not installed (extra ``torch``).

    Security assumption: none.
    """
    torch = require("torch", feature="privkit simulate (the model)")
    torch.manual_seed(seed)
    a, b, c = MLP_LAYERS
    return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, c))
