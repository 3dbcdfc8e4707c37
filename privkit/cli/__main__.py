"""``python -m privkit.cli``: the same as the ``privkit`` command."""

from __future__ import annotations

from privkit.cli import main

raise SystemExit(main())
