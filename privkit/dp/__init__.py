"""privkit.dp: differential privacy for training and for federated aggregation.

Three parts (docs/dp.md is the overview):

- **DP-SGD** on Opacus: :func:`make_private` turns a model, optimizer and data loader
  into private ones (noise calibrated to a target epsilon, the fastest clipping mode
  for the model, Poisson sampling, physical batches, a budget refused before the step
  that would exceed it).  :mod:`privkit.dp.ghost` adds per-sample norms for
  convolutions and single-backward ghost clipping.  Needs the ``torch`` extra.
- **Client-level DP** for federated averaging: :class:`ClientDP` wraps any aggregation
  scheme; per-client clipping (fixed or :class:`AdaptiveClip`), Gaussian noise added by
  the server (``mode="central"``) or distributed discrete Gaussian shares added by the
  clients inside the secure sum (``mode="distributed"``).
- **Accounting**: :class:`RDPAccountant`, :class:`PRVAccountant` (the default) and
  :class:`GDPAccountant` behind one interface that also fits Flower's
  ``PrivacyAccountant``; :func:`calibrate_noise` finds the noise for a target epsilon.

Noise for :class:`ClientDP` comes from :mod:`privkit.dp.noise` (ChaCha20 keystream
keyed from the OS CSPRNG); DP-SGD noise comes from torch's generator unless
``secure_mode=True``.

Importing :mod:`privkit.dp` never imports torch or Opacus; :func:`make_private` and
:mod:`privkit.dp.ghost` load them when called and raise
:class:`~privkit.errors.BackendUnavailableError` naming the extra when they are missing.
"""

from __future__ import annotations

from privkit.dp.accounting import (
    Accountant,
    AccountingConfig,
    DistributedDiscreteGaussian,
    GDPAccountant,
    Mechanism,
    PrivacySpent,
    PRVAccountant,
    RDPAccountant,
    SampledGaussian,
    calibrate_noise,
    make_accountant,
)
from privkit.dp.client import ClientDP
from privkit.dp.clipping import AdaptiveClip, clip_l2
from privkit.dp.noise import discrete_gaussian, gaussian
from privkit.dp.training import (
    InsecureNoiseWarning,
    ModeChoice,
    PrivacyHandle,
    PrivateTraining,
    make_private,
    select_mode,
)

__all__ = [
    "Accountant",
    "AccountingConfig",
    "AdaptiveClip",
    "ClientDP",
    "DistributedDiscreteGaussian",
    "GDPAccountant",
    "InsecureNoiseWarning",
    "Mechanism",
    "ModeChoice",
    "PRVAccountant",
    "PrivacyHandle",
    "PrivacySpent",
    "PrivateTraining",
    "RDPAccountant",
    "SampledGaussian",
    "calibrate_noise",
    "clip_l2",
    "discrete_gaussian",
    "gaussian",
    "make_accountant",
    "make_private",
    "select_mode",
]
