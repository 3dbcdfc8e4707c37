"""Output of ``privkit simulate``: a stderr progress bar, the round table, JSON and PNG."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

__all__ = ["Progress", "format_table", "write_outputs"]

_STAGES = ("train", "server", "clients", "commit", "evaluate")


class Progress:
    """A dependency-free progress bar: ``\\r`` redraws on a terminal, a line per round otherwise.

    Args:
        stream: where to draw (None: draw nothing).
        total: number of rounds.

    Security assumption: none.
    """

    def __init__(self, stream: IO[str] | None, total: int) -> None:
        self._stream = stream
        self._total = max(1, total)
        isatty = getattr(stream, "isatty", None)
        self._tty = bool(isatty()) if callable(isatty) else False
        self._drawn = False

    def update(self, done: int, stage: str) -> None:
        """Show ``done`` of the rounds finished and the stage now running.

        Args:
            done: rounds finished, 0..total.
            stage: a short label of the running stage (``"done"`` ends a round).
        """
        if self._stream is None:
            return
        if self._tty:
            width = 30
            fill = round(width * done / self._total)
            bar = "#" * fill + "-" * (width - fill)
            self._stream.write(
                f"\r[{bar}] round {min(done + 1, self._total)}/{self._total} {stage:<9}"
            )
            self._drawn = True
        elif stage == "done":
            self._stream.write(f"round {done}/{self._total} done\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._stream is not None and self._drawn:
            self._stream.write("\r" + " " * 60 + "\r")
            self._stream.flush()


def _kb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e3:9.1f}"


def _sec(seconds: Mapping[str, float], key: str, width: int) -> str:
    value = seconds.get(key)
    return f"{'-':>{width}}" if value is None else f"{value:{width}.2f}"


def format_table(rounds: Sequence[Any], *, header: bool = True, last_only: bool = False) -> str:
    """Format round records as a fixed-width table.

    Args:
        rounds: :class:`~privkit.cli.simulate.RoundRecord` objects.
        header: start with the column names.
        last_only: only the last record's row.

    Returns:
        The table text, one line per row, newline-terminated.

    Raises:
        AttributeError: a record lacks a RoundRecord field.

    Security assumption: none; the records hold only public, aggregate numbers.
    """
    lines = []
    if header:
        lines.append(
            "round  accuracy   epsilon  survivors  kB up/client  kB down/client  "
            "train s  server s  clients s  commit s  verified"
        )
    rows = rounds[-1:] if last_only else rounds
    for rec in rows:
        eps = "-" if rec.epsilon is None else f"{rec.epsilon:.3f}"
        secs = rec.seconds
        verified = "-" if rec.verified is None else ("yes" if rec.verified else "NO")
        lines.append(
            f"{rec.round:5d}  {rec.accuracy:8.3f}  {eps:>8}  {rec.survivors:9d}  "
            f"{_kb(rec.bytes_up_per_client):>12}  {_kb(rec.bytes_down_per_client):>14}  "
            f"{_sec(secs, 'train', 7)}  {_sec(secs, 'server', 8)}  "
            f"{_sec(secs, 'clients', 9)}  {_sec(secs, 'commit', 8)}  {verified:>8}"
        )
    return "\n".join(lines) + "\n"


def write_outputs(report: Mapping[str, Any], out: str) -> list[str]:
    """Write ``report.json`` and, with matplotlib, ``report.png`` into ``out``.

    Args:
        report: the JSON report of :meth:`SimulationResult.to_json`.
        out: the directory (created when missing).

    Returns:
        Notes for the user (where files went, a skipped plot).

    Raises:
        OSError: the directory or a file cannot be written.

    Security assumption: the report holds only what the server may publish (aggregate
    accuracy, epsilon, traffic); never an update, a key or a blinding.
    """
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "report.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
        fh.write("\n")
    notes = [f"wrote {path}"]
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        notes.append("matplotlib is not installed: no plot (pip install matplotlib)")
        return notes
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    rounds = report["rounds"]
    xs = [0] + [r["round"] for r in rounds]
    acc = [report["initial_accuracy"]] + [r["accuracy"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, acc, marker="o", color="tab:blue", label="test accuracy")
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy", color="tab:blue")
    ax.set_ylim(0.0, 1.0)
    if any(r["epsilon"] is not None for r in rounds):
        ax2 = ax.twinx()
        eps = [0.0] + [r["epsilon"] or 0.0 for r in rounds]
        ax2.plot(xs, eps, marker="s", color="tab:red", label="epsilon spent")
        ax2.set_ylabel("epsilon spent", color="tab:red")
    cfg = report["config"]
    ax.set_title(f"privkit simulate: {cfg['scheme']}, {cfg['clients']} clients")
    fig.tight_layout()
    png = os.path.join(out, "report.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    notes.append(f"wrote {png}")
    return notes
