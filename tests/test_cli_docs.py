"""The runnable examples of docs/sessions-api.md and the commands of docs/quickstart.md."""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_sessions_api_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = BLOCK.findall((DOCS / "sessions-api.md").read_text(encoding="utf-8"))
    assert blocks
    for i, code in enumerate(blocks):
        exec(compile(code, f"sessions-api.md#{i}", "exec"), {"__name__": "docs_sessions"})
    out = capsys.readouterr().out
    assert "dropping the bad reply of client 5" in out
    assert "survivors [0, 1, 2, 4]" in out


def test_quickstart_simulate_commands_parse() -> None:
    """Every ``privkit simulate`` line of the quickstart uses flags that exist."""
    from privkit.cli import _parser

    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    commands = [
        line.split("#")[0].strip()
        for block in SHELL.findall(text)
        for line in block.splitlines()
        if line.strip().startswith("privkit ")
    ]
    assert any(c.startswith("privkit simulate") for c in commands)
    parser = _parser()
    for command in commands:
        parser.parse_args(shlex.split(command)[1:])
