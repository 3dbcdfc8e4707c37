"""Render a suite result (the dict from :func:`benchmarks.core.run_suite`).

Every renderer reads only the JSON-ready result, so a saved ``<suite>.json``
can be rendered again later.  Three outputs per suite, in the output folder:

* ``<suite>.json``: the result itself (machine, raw times, summaries, ratios,
  targets, checks);
* ``<suite>.md``: a Markdown table ``case | implementation | median |
  throughput | ratio vs privkit`` with the targets and checks under it;
* ``<suite>.png``: throughput per case, one bar per implementation (needs
  matplotlib, the ``bench`` extra; skipped with a note without it).
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "format_seconds",
    "format_throughput",
    "render_case_info",
    "render_markdown",
    "render_table",
    "write_json",
    "write_markdown",
    "write_outputs",
    "write_plot",
]

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def _sig3(value: float) -> str:
    """Format a positive number with three significant digits, no exponent."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def format_seconds(seconds: float) -> str:
    """Format a duration with three significant digits and a fitting unit.

    Args:
        seconds: the duration.

    Returns:
        E.g. ``"1.23 s"``, ``"45.6 ms"``, ``"789 µs"``, ``"12.0 ns"``.
    """
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{_sig3(seconds / scale)} {unit}"
    return f"{_sig3(seconds / 1e-9)} ns"


def format_throughput(per_second: float | None, unit: str) -> str:
    """Format a rate with an SI prefix, e.g. ``"1.23 Gword/s"``.

    Args:
        per_second: units per second, or None when undefined.
        unit: the unit name.

    Returns:
        The formatted rate, or ``"n/a"``.
    """
    if per_second is None or not math.isfinite(per_second):
        return "n/a"
    for scale, prefix in _SI:
        if per_second >= scale:
            return f"{_sig3(per_second / scale)} {prefix}{unit}/s"
    return f"{_sig3(per_second)} {unit}/s"


def _format_ratio(ratio: float | None, *, is_reference: bool) -> str:
    """Format a speed-up cell of the table."""
    if is_reference:
        return "1.00 (ref)"
    if ratio is None:
        return "n/a"
    return f"{ratio:.2f}×"


def render_table(result: Mapping[str, Any]) -> str:
    """Render the Markdown table of a result, one row per (case, implementation).

    Args:
        result: a suite result.

    Returns:
        The table, header included, without a trailing newline.
    """
    reference = result["reference"]
    lines = [
        f"| case | implementation | median | throughput | ratio vs {reference} |",
        "|---|---|---:|---:|---:|",
    ]
    for case in result["cases"]:
        for res in case["results"]:
            name = res["implementation"]
            lines.append(
                "| {case} | {impl} | {median} | {tput} | {ratio} |".format(
                    case=case["case"],
                    impl=f"**{name}**" if name == reference else name,
                    median=format_seconds(res["median_s"]),
                    tput=format_throughput(res["throughput_per_s"], result["unit"]),
                    ratio=_format_ratio(res["ratio"], is_reference=name == reference),
                )
            )
    return "\n".join(lines)


def _machine_line(result: Mapping[str, Any]) -> str:
    """One line saying where and how the result was measured."""
    m = result.get("machine", {})
    cfg = result.get("config", {})
    parts = [
        f"CPU {m.get('cpu_model', '?')}",
        f"{m.get('cpu_usable', m.get('cpu_count', '?'))} usable cores",
        f"Python {m.get('python', '?')}",
        f"numpy {m.get('numpy', '?')}",
        f"cryptography {m.get('cryptography', '?')}",
        f"privkit ISA {m.get('privkit_isa', '?')}",
    ]
    mode = "quick" if result.get("quick") else "full"
    default = cfg.get("repeats", "?")
    own = [
        f"{c['case']}: {c['repeats']}"
        for c in result.get("cases", [])
        if c.get("repeats", default) != default
    ]
    rounds = f"{default} interleaved rounds" + (f" ({'; '.join(own)})" if own else "")
    stamp = result.get("timestamp", "?")
    return f"{'; '.join(parts)}. {mode} run, {rounds} after 1 warm-up, {stamp}."


def _format_value(value: Any) -> str:
    """Format one case-info value compactly (numbers with 3 significant digits)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _flatten_info(info: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key = value`` items of a (nested) case-info mapping, nested keys joined by dots."""
    items: list[str] = []
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items += _flatten_info(value, f"{name}.")
        else:
            items.append(f"{name} = {_format_value(value)}")
    return items


def render_case_info(result: Mapping[str, Any]) -> str:
    """Render the facts measured per case (``info``), one bullet per case that has any.

    Args:
        result: a suite result.

    Returns:
        The bullets, or ``""`` when no case has info.
    """
    lines = [
        f"- {case['case']}: {'; '.join(_flatten_info(case['info']))}"
        for case in result.get("cases", [])
        if case.get("info")
    ]
    return "\n".join(lines)


def render_markdown(result: Mapping[str, Any]) -> str:
    """Render the whole Markdown report of a result.

    Args:
        result: a suite result.

    Returns:
        A heading, the machine line, the table, the ratio legend, then the
        targets and checks (when the suite has any), ending in a newline.
    """
    reference = result["reference"]
    out = [
        f"## {result['suite']}: {result['description']}",
        "",
        _machine_line(result),
        "",
        render_table(result),
        "",
        f"Median of the timed rounds; throughput = {result['unit']}s per second at the median; "
        f"ratio = implementation median / {reference} median (> 1: {reference} is faster). "
        "Raw times, min and IQR are in the JSON.",
    ]
    details = render_case_info(result)
    if details:
        out += ["", "Measured per case (see the JSON):", "", details]
    if result.get("targets"):
        out += ["", "Targets:", ""]
        for t in result["targets"]:
            measured = "not measured" if t["ratio"] is None else f"measured {t['ratio']:.2f}×"
            out.append(
                f"- {t['status']}: {reference} ≥ {t['min_ratio']:g}× {t['vs']} "
                f"at {t['case']} ({measured})"
            )
    if result.get("checks"):
        out += ["", "Correctness checks (untimed):", ""]
        for c in result["checks"]:
            out.append(f"- {'PASS' if c['passed'] else 'FAIL'}: {c['name']}")
    return "\n".join(out) + "\n"


def write_json(result: Mapping[str, Any], path: Path) -> Path:
    """Write a result as indented JSON (no NaN or infinity).

    Args:
        result: a suite result.
        path: the file to write.

    Returns:
        ``path``.
    """
    path.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_markdown(result: Mapping[str, Any], path: Path) -> Path:
    """Write :func:`render_markdown` of a result.

    Args:
        result: a suite result.
        path: the file to write.

    Returns:
        ``path``.
    """
    path.write_text(render_markdown(result), encoding="utf-8")
    return path


def _load_pyplot() -> Any:
    """Import matplotlib's pyplot on the non-interactive Agg backend.

    Raises:
        ImportError: matplotlib is not installed.
    """
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def write_plot(result: Mapping[str, Any], path: Path) -> Path:
    """Plot throughput per case, one bar per implementation, IQR as error bars.

    Anchor bars are labelled with their ratio (privkit's speed-up over them).
    The y axis is logarithmic when the throughputs span more than 30×.

    Args:
        result: a suite result.
        path: the PNG to write.

    Returns:
        ``path``.

    Raises:
        ImportError: matplotlib is not installed.
    """
    plt = _load_pyplot()
    ticker = importlib.import_module("matplotlib.ticker")
    reference = result["reference"]
    cases = [c["case"] for c in result["cases"]]
    impls: list[str] = []
    for case in result["cases"]:
        for res in case["results"]:
            if res["implementation"] not in impls:
                impls.append(res["implementation"])
    width = 0.8 / max(len(impls), 1)
    width_in = min(14.0, max(7.0, 0.8 * len(cases) * max(len(impls), 1) + 3.0))
    fig, ax = plt.subplots(figsize=(width_in, 4.5))
    values: list[float] = []
    for i, impl in enumerate(impls):
        xs: list[float] = []
        ys: list[float] = []
        ratios: list[float] = []
        lo: list[float] = []
        hi: list[float] = []
        for j, case in enumerate(result["cases"]):
            res = next((r for r in case["results"] if r["implementation"] == impl), None)
            if res is None or not res["throughput_per_s"]:
                continue
            y = res["throughput_per_s"]
            work = case["work"]
            xs.append(j + (i - (len(impls) - 1) / 2) * width)
            ys.append(y)
            ratios.append(res["ratio"] or 0.0)
            lo.append(y - work / res["q3_s"] if res["q3_s"] > 0 else 0.0)
            hi.append(work / res["q1_s"] - y if res["q1_s"] > 0 else 0.0)
        values += ys
        bars = ax.bar(
            xs,
            ys,
            width,
            yerr=[lo, hi],
            capsize=2,
            label=impl,
            edgecolor="black" if impl == reference else None,
            linewidth=1.2 if impl == reference else 0.0,
        )
        if impl != reference:
            ax.bar_label(bars, labels=[f"{r:.1f}×" for r in ratios], fontsize=7, padding=2)
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 30:
        ax.set_yscale("log")
    else:
        ax.yaxis.set_major_formatter(ticker.EngFormatter())
    ax.set_xticks(range(len(cases)), cases)
    ax.set_xlabel("case")
    ax.set_ylabel(f"throughput ({result['unit']}/s, higher is better)")
    machine = result.get("machine", {})
    mode = " (quick)" if result.get("quick") else ""
    ax.set_title(
        f"{result['suite']}{mode}: {machine.get('cpu_model', '?')}, "
        f"privkit ISA {machine.get('privkit_isa', '?')}",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(
    result: Mapping[str, Any],
    out_dir: Path,
    *,
    plot: bool = True,
    note: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write ``<suite>.json``, ``<suite>.md`` and (if possible) ``<suite>.png``.

    Args:
        result: a suite result.
        out_dir: the folder (created if missing).
        plot: whether to attempt the PNG.
        note: where to say that the PNG was skipped.

    Returns:
        ``{"json": path, "md": path[, "png": path]}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = result["suite"]
    paths = {
        "json": write_json(result, out_dir / f"{stem}.json"),
        "md": write_markdown(result, out_dir / f"{stem}.md"),
    }
    if plot:
        try:
            paths["png"] = write_plot(result, out_dir / f"{stem}.png")
        except ImportError:
            note(
                f"note: matplotlib is not installed, so {stem}.png was not drawn "
                "(pip install 'privkit[bench]')"
            )
    return paths
