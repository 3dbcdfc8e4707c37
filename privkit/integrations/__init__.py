"""privkit.integrations: adapters that run privkit's schemes inside existing federated engines.

- :mod:`privkit.integrations.flower`: Flower (Message API), extra ``flower``.

Importing this package needs no optional backend; each adapter imports its engine when
first used and raises :class:`~privkit.errors.BackendUnavailableError` naming the extra
when the engine is missing.

Security assumption: the adapters only carry bytes; what is protected is stated by the
scheme they run (see each scheme's threat model).
"""

from __future__ import annotations

__all__: list[str] = []
