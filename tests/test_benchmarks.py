"""Tests of the benchmark runner (benchmarks/), with fake suites and fake clocks.

Nothing here asserts a speed: timings come from a fake clock, and the one run
of the real ``mask`` suite (quick mode, in a subprocess) checks only that it
produces a well-formed result whose correctness cross-checks pass.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from benchmark_schema import ROW_KEYS

from benchmarks import cli, core, machine, report
from benchmarks.core import Case, Check, Suite, SuiteUnavailableError, Target
from benchmarks.suites import SUITES, load_suite

REPO = Path(__file__).resolve().parents[1]

RESULT_KEYS = {
    "schema",
    "suite",
    "description",
    "unit",
    "reference",
    "anchors",
    "timestamp",
    "quick",
    "machine",
    "suite_info",
    "config",
    "checks",
    "cases",
    "targets",
}
MACHINE_KEYS = {
    "cpu_model",
    "cpu_simd_flags",
    "cpu_count",
    "cpu_usable",
    "python",
    "numpy",
    "cryptography",
    "privkit_isa",
}


class FakeClock:
    """A clock that only moves when a fake implementation says it worked."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSuite(Suite):
    """Three implementations whose call durations are scripted per case.

    ``costs[(case, impl)]`` lists the durations of successive calls; the first
    is the untimed warm-up.
    """

    name = "fake"
    description = "scripted durations"
    unit = "item"
    implementations = ("privkit", "anchor-a", "anchor-b")
    anchors: ClassVar[Mapping[str, str]] = {"anchor-a": "first", "anchor-b": "second"}
    targets = (
        Target(vs="anchor-a", case="n=10", min_ratio=1.5),
        Target(vs="anchor-b", case="n=10", min_ratio=5.0),
        Target(vs="anchor-a", case="n=999", min_ratio=1.0),
    )
    repeats = 5
    quick_repeats = 2

    def __init__(
        self,
        clock: FakeClock,
        costs: Mapping[tuple[str, str], Sequence[float]],
        *,
        checks_pass: bool = True,
    ) -> None:
        self.clock = clock
        self.costs = costs
        self.checks_pass = checks_pass
        self.calls: list[tuple[str, str]] = []

    def cases(self, *, quick: bool) -> Sequence[Case]:
        if quick:
            return [Case("n=10", work=10.0, params={"n": 10})]
        return [Case("n=10", work=10.0, params={"n": 10}), Case("n=20", 20.0, {"n": 20})]

    def setup(self, case: Case) -> Mapping[str, Callable[[], object]]:
        def make(impl: str) -> Callable[[], object]:
            durations: Iterator[float] = iter(self.costs.get((case.name, impl), [1.0] * 99))

            def run() -> None:
                self.calls.append((case.name, impl))
                self.clock.now += next(durations)

            return run

        return {impl: make(impl) for impl in self.implementations}

    def checks(self, *, quick: bool) -> Sequence[Check]:
        return [Check("always", self.checks_pass, {"quick": quick})]


# privkit takes 1 s; anchor-a 3 s median (scrambled), anchor-b 4 s; warm-ups 100 s.
COSTS: dict[tuple[str, str], list[float]] = {
    ("n=10", "privkit"): [100.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ("n=10", "anchor-a"): [100.0, 3.0, 1.0, 2.0, 5.0, 4.0],
    ("n=10", "anchor-b"): [100.0, 4.0, 4.0, 4.0, 4.0, 4.0],
    ("n=20", "privkit"): [100.0, 2.0, 2.0, 2.0, 2.0, 2.0],
    ("n=20", "anchor-a"): [100.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ("n=20", "anchor-b"): [100.0, 8.0, 8.0, 8.0, 8.0, 8.0],
}


@pytest.fixture
def fake() -> FakeSuite:
    return FakeSuite(FakeClock(), COSTS)


def _row(result: Mapping[str, Any], case: str, impl: str) -> Mapping[str, Any]:
    for c in result["cases"]:
        if c["case"] == case:
            rows: list[Mapping[str, Any]] = c["results"]
            for r in rows:
                if r["implementation"] == impl:
                    return r
    raise AssertionError(f"no row {case} / {impl}")


# --------------------------------------------------------------------------- core


def test_summarize_statistics() -> None:
    s = core.summarize([5.0, 1.0, 4.0, 2.0, 3.0])
    assert s["median_s"] == 3.0
    assert s["min_s"] == 1.0
    assert s["max_s"] == 5.0
    assert s["mean_s"] == 3.0
    assert (s["q1_s"], s["q3_s"], s["iqr_s"]) == (2.0, 4.0, 2.0)
    assert core.summarize([2.0, 4.0])["median_s"] == 3.0
    one = core.summarize([7.0])
    assert one["median_s"] == one["q1_s"] == one["q3_s"] == 7.0
    assert one["iqr_s"] == 0.0
    with pytest.raises(ValueError, match="empty"):
        core.summarize([])


def test_run_suite_medians_ratios_and_throughput(fake: FakeSuite) -> None:
    result = core.run_suite(fake, timer=fake.clock, log=None)
    assert set(result) == RESULT_KEYS
    assert result["config"]["repeats"] == 5
    pk = _row(result, "n=10", "privkit")
    a = _row(result, "n=10", "anchor-a")
    b = _row(result, "n=10", "anchor-b")
    assert set(pk) == ROW_KEYS
    # the warm-up (100 s) is not among the recorded times
    assert pk["times_s"] == [1.0] * 5
    assert a["times_s"] == [3.0, 1.0, 2.0, 5.0, 4.0]
    assert a["median_s"] == 3.0
    assert a["min_s"] == 1.0
    assert a["iqr_s"] == 2.0
    assert pk["ratio"] == 1.0
    assert a["ratio"] == 3.0
    assert b["ratio"] == 4.0
    assert pk["throughput_per_s"] == 10.0
    assert a["throughput_per_s"] == pytest.approx(10.0 / 3.0)
    # an anchor faster than privkit has a ratio below 1
    assert _row(result, "n=20", "anchor-a")["ratio"] == 0.5
    assert _row(result, "n=20", "anchor-b")["throughput_per_s"] == 2.5


def test_run_suite_interleaves_in_shuffled_rounds() -> None:
    fake = FakeSuite(FakeClock(), {})  # uniform fake costs, enough for 12 rounds
    result = core.run_suite(fake, timer=fake.clock, repeats=12, log=None)
    first_case = [impl for case, impl in fake.calls if case == "n=10"]
    impls = ["privkit", "anchor-a", "anchor-b"]
    warmup, rounds = first_case[:3], first_case[3:]
    assert warmup == impls
    orders = [rounds[i : i + 3] for i in range(0, len(rounds), 3)]
    # every implementation exactly once per round, and the logged order is the real one
    assert all(sorted(order) == sorted(impls) for order in orders)
    assert result["cases"][0]["order"] == orders
    # adjacency varies: privkit is preceded by more than one neighbour across rounds
    predecessors = {order[order.index("privkit") - 1] for order in orders if order[0] != "privkit"}
    assert len(predecessors) == 2
    assert len({order[0] for order in orders}) == 3
    assert all(len(r["times_s"]) == 12 for c in result["cases"] for r in c["results"])
    # seeded: the same suite and case give the same schedule
    again = core.run_suite(fake, timer=fake.clock, repeats=12, log=None)
    assert again["cases"][0]["order"] == orders


def test_run_suite_quick_and_repeats(fake: FakeSuite) -> None:
    result = core.run_suite(fake, quick=True, timer=fake.clock, log=None)
    assert result["quick"] is True
    assert [c["case"] for c in result["cases"]] == ["n=10"]
    assert result["config"]["repeats"] == FakeSuite.quick_repeats
    with pytest.raises(ValueError, match="repeats"):
        core.run_suite(fake, repeats=0, timer=fake.clock, log=None)


def test_run_suite_requires_reference(fake: FakeSuite) -> None:
    class NoReference(FakeSuite):
        def setup(self, case: Case) -> Mapping[str, Callable[[], object]]:
            return {"anchor-a": lambda: None}

    with pytest.raises(ValueError, match="reference"):
        core.run_suite(NoReference(FakeClock(), COSTS), log=None)


def test_targets_met_missed_not_run(fake: FakeSuite) -> None:
    result = core.run_suite(fake, timer=fake.clock, log=None)
    by_key = {(t["vs"], t["case"]): t for t in result["targets"]}
    assert by_key[("anchor-a", "n=10")]["status"] == "MET"
    assert by_key[("anchor-a", "n=10")]["ratio"] == 3.0
    assert by_key[("anchor-b", "n=10")]["status"] == "MISSED"
    assert by_key[("anchor-a", "n=999")]["status"] == "NOT RUN"
    assert by_key[("anchor-a", "n=999")]["ratio"] is None
    # exactly at the threshold counts as met
    exact = core.evaluate_targets(
        [Target("x", "c", 2.0)],
        [{"case": "c", "results": [{"implementation": "x", "ratio": 2.0}]}],
    )
    assert exact[0]["status"] == "MET"


def test_crashing_check_is_a_failed_check(fake: FakeSuite) -> None:
    class Crashing(FakeSuite):
        def checks(self, *, quick: bool) -> Sequence[Check]:
            raise RuntimeError("kernel exploded")

    result = core.run_suite(Crashing(FakeClock(), COSTS), timer=FakeClock(), log=None)
    assert result["checks"][0]["passed"] is False
    assert "kernel exploded" in result["checks"][0]["detail"]["error"]


# ------------------------------------------------------------------------ reports


def test_markdown_table_rows(fake: FakeSuite) -> None:
    result = core.run_suite(fake, timer=fake.clock, log=None)
    table = report.render_table(result).splitlines()
    assert table[0] == "| case | implementation | median | throughput | ratio vs privkit |"
    rows = table[2:]
    assert len(rows) == 6
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [(c[0], c[1]) for c in cells] == [
        ("n=10", "**privkit**"),
        ("n=10", "anchor-a"),
        ("n=10", "anchor-b"),
        ("n=20", "**privkit**"),
        ("n=20", "anchor-a"),
        ("n=20", "anchor-b"),
    ]
    assert cells[0][2:] == ["1.00 s", "10.0 item/s", "1.00 (ref)"]
    assert cells[1][2:] == ["3.00 s", "3.33 item/s", "3.00×"]
    assert cells[4][4] == "0.50×"
    md = report.render_markdown(result)
    assert "- MET: privkit ≥ 1.5× anchor-a at n=10 (measured 3.00×)" in md
    assert "- MISSED: privkit ≥ 5× anchor-b at n=10 (measured 4.00×)" in md
    assert "- NOT RUN: privkit ≥ 1× anchor-a at n=999 (not measured)" in md
    assert "- PASS: always" in md


def test_formatting_units() -> None:
    assert report.format_seconds(0.0525e-3) == "52.5 µs"
    assert report.format_seconds(1.5) == "1.50 s"
    assert report.format_seconds(0.0123) == "12.3 ms"
    assert report.format_throughput(1.54e9, "word") == "1.54 Gword/s"
    assert report.format_throughput(951e6, "word") == "951 Mword/s"
    assert report.format_throughput(None, "word") == "n/a"


def test_write_outputs_json_md_png(fake: FakeSuite, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (the bench extra) is not installed")
    result = core.run_suite(fake, timer=fake.clock, machine={"cpu_model": "test"}, log=None)
    paths = report.write_outputs(result, tmp_path / "out")
    assert set(paths) == {"json", "md", "png"}
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == result
    assert "| n=20 | anchor-b |" in paths["md"].read_text(encoding="utf-8")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_outputs_without_matplotlib(
    fake: FakeSuite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_matplotlib() -> Any:
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(report, "_load_pyplot", no_matplotlib)
    notes: list[str] = []
    result = core.run_suite(fake, timer=fake.clock, log=None)
    paths = report.write_outputs(result, tmp_path, note=notes.append)
    assert set(paths) == {"json", "md"}
    assert not (tmp_path / "fake.png").exists()
    assert len(notes) == 1
    assert "matplotlib" in notes[0]


def test_cpu_model_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_1 avx2 avx512f\n"
        "processor\t: 1\nmodel name\t: Test CPU 9000\n",
        encoding="utf-8",
    )
    assert machine.cpu_model(cpuinfo) == ("Test CPU 9000", ["sse4_1", "avx2", "avx512f"])
    model, flags = machine.cpu_model(tmp_path / "missing")
    assert model
    assert flags == []
    info = machine.machine_info()
    assert set(info) >= MACHINE_KEYS
    json.dumps(info)


# ---------------------------------------------------------------------------- CLI


def test_cli_writes_outputs_and_prints_table(
    fake: FakeSuite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(
        ["fake", "--out", str(tmp_path), "--repeats", "5", "--no-plot"],
        registry={"fake": fake},
        timer=fake.clock,
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "| case | implementation | median | throughput | ratio vs privkit |" in out
    assert "| n=10 | anchor-a | 3.00 s | 3.33 item/s | 3.00× |" in out
    data = json.loads((tmp_path / "fake.json").read_text(encoding="utf-8"))
    assert set(data) == RESULT_KEYS
    assert set(data["machine"]) >= MACHINE_KEYS
    assert data["quick"] is False
    assert (tmp_path / "fake.md").is_file()
    assert not (tmp_path / "fake.png").exists()


def test_cli_exit_status(fake: FakeSuite, tmp_path: Path) -> None:
    registry = {"fake": fake}
    args = ["--out", str(tmp_path), "--no-plot"]
    assert cli.main(args, registry=registry, timer=fake.clock) == 0
    fake.calls.clear()
    # anchor-b at n=10 misses its target: only --check-targets turns that into status 1
    assert cli.main([*args, "--check-targets"], registry=registry, timer=fake.clock) == 1
    failing = FakeSuite(FakeClock(), COSTS, checks_pass=False)
    assert cli.main(args, registry={"fake": failing}, timer=failing.clock) == 1


def test_cli_unavailable_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Unavailable(FakeSuite):
        name = "gone"

        def prepare(self) -> None:
            raise SuiteUnavailableError("needs a thing")

    registry = {"gone": Unavailable(FakeClock(), COSTS)}
    # named explicitly: status 2; as part of "all suites": skipped, status 0
    assert cli.main(["gone", "--out", str(tmp_path)], registry=registry) == 2
    assert "SKIPPED gone: needs a thing" in capsys.readouterr().err
    assert cli.main(["--out", str(tmp_path)], registry=registry) == 0
    assert not (tmp_path / "gone.json").exists()


def test_cli_list_and_unknown_suite(fake: FakeSuite, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"], registry={"fake": fake, "broken": "no.such.module"}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fake\tscripted durations"
    assert lines[1].startswith("broken\t(cannot load:")
    assert cli.main(["--list"]) == 0
    assert "mask\t" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["nope"], registry={"fake": fake})
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["--repeats", "0"], registry={"fake": fake})


def test_list_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mask\t")


# ----------------------------------------------------------------------- registry


def test_registry_loads_every_suite_without_running_it() -> None:
    for name in SUITES:
        suite = load_suite(name)
        assert suite.name == name
        assert suite.reference in suite.implementations
        for target in suite.targets:
            assert target.vs in suite.implementations
            assert target.vs != suite.reference
        assert set(suite.anchors) <= set(suite.implementations)


def test_mask_anchors_add_and_subtract(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    mask = importlib.import_module("benchmarks.suites.mask")
    seeds = [bytes([i]) * 32 for i in (1, 2, 3)]
    monkeypatch.setattr(mask, "_draw_seeds", lambda k: seeds[:k])
    suite = mask.MaskSuite()
    suite._mask_add = lambda acc, seeds, signs: None  # privkit is not exercised here
    n = 512
    fns = suite.setup(Case("k=3", work=3.0 * n, params={"n": n, "k": 3}))
    signs = [1, -1, 1]

    def combine(masks: list[np.ndarray]) -> np.ndarray:
        total = sum(s * m.astype(np.int64) for s, m in zip(signs, masks, strict=True))
        return np.mod(total, 2**32).astype(np.uint32)

    def keystream(seed: bytes) -> np.ndarray:
        enc = Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None).encryptor()
        return np.frombuffer(enc.update(bytes(4 * n)), dtype="<u4")

    def pcg(seed: bytes) -> np.ndarray:
        gen = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "little")))
        return gen.integers(0, 2**32, size=n, dtype=np.uint32)

    def flower(seed: bytes) -> np.ndarray:
        words = np.frombuffer(seed, dtype="<u4")
        seed32 = int(np.bitwise_xor.reduce(words))
        return np.random.RandomState(seed32).randint(0, 2**32, size=n, dtype=np.int64)

    expected = {
        "chacha20-cryptography": combine([keystream(s) for s in seeds]),
        "numpy-pcg64": combine([pcg(s) for s in seeds]),
        "numpy-mt19937-flower": combine([flower(s) for s in seeds]),
    }
    for impl, want in expected.items():
        got = np.asarray(fns[impl]())
        assert got.dtype == np.uint32
        np.testing.assert_array_equal(got, want, err_msg=impl)
        # each call adds the masks again into the same accumulator
        np.testing.assert_array_equal(
            np.asarray(fns[impl]()), (want.astype(np.uint64) * 2 % 2**32).astype(np.uint32)
        )
    assert mask._flower_seed32(bytes(range(32))) == int(
        np.bitwise_xor.reduce(np.frombuffer(bytes(range(32)), dtype="<u4"))
    )


# ----------------------------------------------------------------- real smoke run


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def test_mask_quick_smoke(tmp_path: Path) -> None:
    pytest.importorskip(
        "privkit.prg",
        reason="privkit.prg (the C extension) cannot be imported; build it: pip install -e .",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "mask", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| k=4 | numpy-mt19937-flower |" in proc.stdout
    data = json.loads((tmp_path / "mask.json").read_text(encoding="utf-8"))
    assert set(data) == RESULT_KEYS
    assert data["suite"] == "mask"
    assert data["quick"] is True
    assert set(data["machine"]) >= MACHINE_KEYS
    assert data["machine"]["privkit_isa"] in {"avx512", "avx2", "portable"}
    assert [c["case"] for c in data["cases"]] == ["k=1", "k=4"]
    impls = [
        "privkit",
        "chacha20-cryptography",
        "chacha20-cryptography-update",
        "numpy-pcg64",
        "numpy-mt19937-flower",
    ]
    for case in data["cases"]:
        names = [r["implementation"] for r in case["results"]]
        assert [name for name in names if name != "privkit-1thread"] == impls
        for r in case["results"]:
            assert set(r) == ROW_KEYS
            assert len(r["times_s"]) == data["config"]["repeats"]
            assert all(t > 0 for t in r["times_s"])
            assert r["ratio"] > 0
    checks = {c["name"]: c["passed"] for c in data["checks"]}
    assert {"multiset_vs_cryptography", "add_then_subtract_cancels"} <= set(checks)
    assert "one_pass_equals_sequential" in checks
    assert all(checks.values()), data["checks"]
    assert [t["status"] for t in data["targets"]] == ["NOT RUN", "NOT RUN"]
    assert (tmp_path / "mask.md").is_file()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "mask.png").read_bytes()[:4] == b"\x89PNG"
