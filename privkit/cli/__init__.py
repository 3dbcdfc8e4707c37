"""The ``privkit`` command line: ``simulate``, ``info`` and ``bench``.

- ``privkit simulate``: federated training on scikit-learn's digits with any privkit
  scheme, client-level DP, commitments, dropouts and poisoning (see
  :mod:`privkit.cli.simulate` and docs/quickstart.md).
- ``privkit info``: versions, the native build and the available backends.
- ``privkit audit verify|show PATH``: check or list a :mod:`privkit.ledger` audit log.
- ``privkit bench [SUITE...] [--quick]``: the benchmark suites (``python -m benchmarks``
  from a source checkout).

Errors of the user's making (bad flags, impossible combinations, a missing backend)
print one line on stderr and exit with status 2; a failed protocol round exits with 1.
Never a traceback for those.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from privkit.errors import BackendUnavailableError, ParameterError, PrivkitError

__all__ = ["main"]

PROG = "privkit"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from privkit.cli import simulate

    parser = _Parser(prog=PROG, description="privkit: privacy-preserving federated learning")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sim = sub.add_parser("simulate", help="federated training simulation (the main job)")
    simulate.add_arguments(sim)
    sub.add_parser("info", help="versions, native build, available backends")
    bench = sub.add_parser("bench", help="run the benchmark suites (python -m benchmarks)")
    bench.add_argument(
        "args", nargs="*", metavar="SUITE", help="suites and flags of python -m benchmarks"
    )
    from privkit.cli import audit

    audit.add_arguments(sub.add_parser("audit", help="verify or show a privkit.ledger audit log"))
    return parser


def _bench(argv: Sequence[str]) -> int:
    try:
        cli = importlib.import_module("benchmarks.cli")
    except ImportError:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        sys.stderr.write(
            "privkit bench: the benchmark suites are a development package (benchmarks/) of "
            "privkit's source tree, not installed; run from a checkout: "
            f"cd <privkit source> && python -m benchmarks (looked in {root})\n"
        )
        return 2
    status = cli.main(list(argv))
    return int(status or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``privkit`` command line.

    Args:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success, 2 a usage error or a missing backend (one line on
        stderr), 1 a failed run (a protocol error, a failed verification).

    Raises:
        Nothing for user errors; a bug in privkit still raises.

    Security assumption: none beyond the commands'.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["bench"]:
        # Every flag after "bench" belongs to python -m benchmarks (--quick, --list, ...).
        try:
            return _bench(args[1:])
        except PrivkitError as exc:
            sys.stderr.write(f"{PROG} bench: failed: {_one_line(exc)}\n")
            return 1
    parser = _parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        if ns.command == "simulate":
            from privkit.cli.simulate import run_from_args

            return run_from_args(ns)
        if ns.command == "info":
            from privkit.cli.info import print_info

            print_info(sys.stdout)
            return 0
        if ns.command == "audit":
            from privkit.cli.audit import run_from_args as run_audit

            return run_audit(ns)
        parser.print_help(sys.stderr)
        return 2
    except (ParameterError, BackendUnavailableError) as exc:
        sys.stderr.write(f"{PROG} {ns.command}: error: {_one_line(exc)}\n")
        return 2
    except PrivkitError as exc:
        sys.stderr.write(f"{PROG} {ns.command}: failed: {type(exc).__name__}: {_one_line(exc)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG} {ns.command}: interrupted\n")
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
