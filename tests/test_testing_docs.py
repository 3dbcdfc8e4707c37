"""The Python examples in docs/ (aggregation, testing, DP pages) run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
#: Pages whose ``python`` blocks are complete programs (the torch ones need the extra).
DOCUMENTED = ("aggregation.md", "testing.md", "dp-federated.md", "zk-group.md")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    found = []
    for name in DOCUMENTED:
        text = (DOCS / name).read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            found.append((f"{name}#{i}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), blocks(), ids=[w for w, _ in blocks()])
def test_doc_example_runs(where: str, code: str) -> None:
    exec(compile(code, where, "exec"), {"__name__": f"docs_{where}"})


def test_docs_have_examples() -> None:
    names = {w.split("#")[0] for w, _ in blocks()}
    assert names == set(DOCUMENTED)


def test_dp_accounting_worked_example_is_a_passing_doctest() -> None:
    import doctest

    result = doctest.testfile(
        str(DOCS / "dp-accounting.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted >= 3
    assert result.failed == 0
