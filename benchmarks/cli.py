"""Command line: ``python -m benchmarks [SUITE ...] [options]``.

Exit status: 0 when every suite that ran passed its correctness checks; 1 when
a check failed, or with ``--check-targets`` when a speed target was missed;
2 on a usage error or when a suite named on the command line cannot run here
(with no names, unavailable suites are skipped with a note).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.core import SuiteUnavailableError, Timer, run_suite
from benchmarks.machine import machine_info
from benchmarks.report import render_markdown, write_outputs
from benchmarks.suites import SUITES, SuiteEntry, load_suite

__all__ = ["DEFAULT_OUT", "build_parser", "main"]

#: Default output folder: ``benchmarks/results`` next to this package.
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser(names: Sequence[str]) -> argparse.ArgumentParser:
    """Build the argument parser.

    Args:
        names: the registered suite names (for help and validation).

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Time privkit beside its anchors, in one process, interleaved; write "
            "<suite>.json, <suite>.md and <suite>.png per suite."
        ),
    )
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help=f"suites to run (default: all): {', '.join(names)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small sizes, few repeats (seconds)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="output folder (default: benchmarks/results)",
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=None,
        metavar="N",
        help="timed rounds per case (default: per suite)",
    )
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument(
        "--check-targets",
        action="store_true",
        help="exit with status 1 when a speed target is MISSED",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not draw the PNG plots")
    return parser


def _list_suites(registry: Mapping[str, SuiteEntry]) -> None:
    """Print one line per registered suite."""
    for name in registry:
        try:
            suite = load_suite(name, registry)
        except Exception as exc:  # listing must survive a broken suite module
            print(f"{name}\t(cannot load: {type(exc).__name__}: {exc})")
            continue
        print(f"{name}\t{suite.description}")


def main(
    argv: Sequence[str] | None = None,
    *,
    registry: Mapping[str, SuiteEntry] | None = None,
    timer: Timer = time.perf_counter,
) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        registry: suite name -> entry (default: :data:`benchmarks.suites.SUITES`).
        timer: the clock used to time calls (injectable for tests).

    Returns:
        The exit status (see the module docstring).
    """
    reg = SUITES if registry is None else registry
    parser = build_parser(list(reg))
    args = parser.parse_args(argv)
    if args.list:
        _list_suites(reg)
        return 0
    unknown = [name for name in args.suites if name not in reg]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(reg)}")
    explicit = bool(args.suites)
    names: list[str] = list(dict.fromkeys(args.suites)) if explicit else list(reg)

    machine = machine_info()
    status = 0
    for name in names:
        try:
            suite = load_suite(name, reg)
            suite.prepare()
        except (SuiteUnavailableError, ImportError) as exc:
            print(f"SKIPPED {name}: {exc}", file=sys.stderr)
            if explicit:
                status = max(status, 2)
            continue
        result = run_suite(
            suite, quick=args.quick, repeats=args.repeats, timer=timer, machine=machine
        )
        print(render_markdown(result))
        paths = write_outputs(
            result,
            args.out,
            plot=not args.no_plot,
            note=lambda line: print(line, file=sys.stderr),
        )
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
        if not all(c["passed"] for c in result["checks"]):
            print(f"FAILED {name}: a correctness check failed", file=sys.stderr)
            status = max(status, 1)
        missed = [t for t in result["targets"] if t["status"] == "MISSED"]
        if missed and args.check_targets:
            print(f"FAILED {name}: {len(missed)} speed target(s) missed", file=sys.stderr)
            status = max(status, 1)
    return status
