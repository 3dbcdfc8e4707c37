"""privkit.dp.accounting: privacy accounting behind one interface.

Three accountants share :class:`Accountant` (compose mechanisms, epsilon for delta, delta
for epsilon, budgets, ``state_dict``/``load_state_dict``), and each also fits Flower's
``PrivacyAccountant`` protocol, so it can be handed to Flower's DP strategy wrappers:

* :class:`PRVAccountant` (default): tight numerical *bound* (Gopi et al. 2021).
* :class:`RDPAccountant`: Rényi-DP *bound*; composes anything, including the distributed
  discrete Gaussian, a little looser.
* :class:`GDPAccountant`: CLT *approximation*, not a bound.

:func:`calibrate_noise` finds the smallest noise multiplier for a target epsilon.
"""

from __future__ import annotations

from privkit.dp.accounting._base import Accountant
from privkit.dp.accounting._mechanisms import (
    AccountingConfig,
    DistributedDiscreteGaussian,
    Mechanism,
    PrivacySpent,
    SampledGaussian,
)
from privkit.dp.accounting.calibrate import calibrate_noise
from privkit.dp.accounting.gdp import GDPAccountant
from privkit.dp.accounting.prv import PRVAccountant
from privkit.dp.accounting.rdp import RDPAccountant
from privkit.errors import ParameterError

__all__ = [
    "Accountant",
    "AccountingConfig",
    "DistributedDiscreteGaussian",
    "GDPAccountant",
    "Mechanism",
    "PRVAccountant",
    "PrivacySpent",
    "RDPAccountant",
    "SampledGaussian",
    "calibrate_noise",
    "make_accountant",
]

_METHODS: dict[str, type[Accountant]] = {
    "rdp": RDPAccountant,
    "prv": PRVAccountant,
    "gdp": GDPAccountant,
}


def make_accountant(method: str = "prv", **kwargs: object) -> Accountant:
    """Construct the accountant for ``method`` (``"prv"``, ``"rdp"`` or ``"gdp"``).

    Args:
        method: which accountant.
        **kwargs: passed on (target_delta, max_epsilon, config; eps_error for PRV).

    Returns:
        A new, empty :class:`Accountant`.

    Raises:
        ParameterError: unknown method or invalid keyword arguments.
    """
    if not isinstance(method, str) or method not in _METHODS:
        raise ParameterError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
    try:
        return _METHODS[method](**kwargs)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ParameterError(f"invalid arguments for the {method} accountant: {exc}") from exc
