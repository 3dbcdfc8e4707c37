"""The Python examples in docs/aggregation.md and docs/testing.md run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    found = []
    for name in ("aggregation.md", "testing.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            found.append((f"{name}#{i}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), blocks(), ids=[w for w, _ in blocks()])
def test_doc_example_runs(where: str, code: str) -> None:
    exec(compile(code, where, "exec"), {"__name__": f"docs_{where}"})


def test_docs_have_examples() -> None:
    names = {w.split("#")[0] for w, _ in blocks()}
    assert names == {"aggregation.md", "testing.md"}
