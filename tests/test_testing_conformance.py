"""check_scheme: correct schemes pass, and each kind of broken scheme is caught."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import Phase, settings
from test_aggregation_session import TwoPhase, TwoPhaseServer

from privkit import wire
from privkit.aggregation import (
    ClientId,
    ClientSession,
    Finish,
    Plain,
    PlainServerSession,
    Scheme,
    ServerSession,
)
from privkit.encoding import flatten
from privkit.errors import BackendUnavailableError, ParameterError, ProtocolError
from privkit.testing import check_scheme
from privkit.wire import Value

FAST = {"max_examples": 25}


@pytest.fixture
def no_shrinking() -> Iterable[None]:
    """check_scheme inherits unset hypothesis settings (here: phases) from the profile."""
    previous = settings.get_current_profile_name()
    settings.register_profile(
        "privkit-no-shrink",
        parent=settings.get_profile(previous),
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    settings.load_profile("privkit-no-shrink")
    try:
        yield
    finally:
        settings.load_profile(previous)


# ----------------------------------------------------------------- correct schemes


def test_plain_passes() -> None:
    check_scheme(Plain)


def test_plain_mean_passes() -> None:
    check_scheme(lambda: Plain(mean=True))


def test_plain_min_clients_passes() -> None:
    check_scheme(lambda: Plain(min_clients=3), n_clients=(1, 6), **FAST)


def test_two_exchange_scheme_passes() -> None:
    check_scheme(lambda: TwoPhase(min_clients=2), **FAST)
    check_scheme(lambda: TwoPhase(mean=True), n_clients=(1, 4), length=(1, 4), **FAST)


def test_options() -> None:
    check_scheme(Plain, dropouts=False, hostile=False, max_examples=5, bound=1e6)


# ----------------------------------------------------------------- broken schemes


class _OffByALittle(PlainServerSession):
    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Finish:
        total = np.zeros(self.length)
        for v in replies.values():
            total += v
        total[-1] += 1e-9
        return Finish(total=total, survivors=replies.keys())


class _AllSurvive(PlainServerSession):
    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Finish:
        total = np.zeros(self.length)
        for v in replies.values():
            total += v
        return Finish(total=total, survivors=self.client_ids)


class _FailsOnAnyDropout(PlainServerSession):
    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Finish:
        if dropped:
            raise ProtocolError("someone dropped out")
        return super()._advance(exchange, replies, dropped)


class _MeanBySum(PlainServerSession):
    """Claims mean=True but returns the sum."""

    def __init__(self, scheme: Plain, *, client_ids: Iterable[ClientId], length: int) -> None:
        super().__init__(Plain(), client_ids=client_ids, length=length)


def _plain_with(server_cls: type[PlainServerSession], **kwargs: Any) -> type[Plain]:
    class Broken(Plain):
        def __init__(self) -> None:
            super().__init__(**kwargs)

        def server(self, *, client_ids: Iterable[ClientId], length: int) -> PlainServerSession:
            return server_cls(self, client_ids=client_ids, length=length)

    Broken.__name__ = server_cls.__name__.strip("_")
    return Broken


# A scheme written without the session bases that forgets session ids and exchange
# numbers: every envelope check passes, but replays across sessions go unnoticed.

REQ, UP = 0x7F20, 0x7F21


class Naive(Scheme):
    name: ClassVar[str] = "test.naive.v1"

    def __init__(self, *, fingerprinted: bool = True) -> None:
        self.fingerprinted = fingerprinted

    def params(self) -> dict[str, Value]:
        return {}

    @property
    def fp(self) -> bytes:
        return self.fingerprint if self.fingerprinted else wire.NO_FINGERPRINT

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> ServerSession:
        return NaiveServer(self, list(client_ids), length)

    def client(self, *, client_id: ClientId, update: object) -> ClientSession:
        return NaiveClient(self, client_id, update)

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        return n_summands * n_summands * bound * 2.0**-52

    def min_survivors(self, n_clients: int) -> int:
        return 1


class NaiveServer(ServerSession):
    def __init__(self, scheme: Naive, ids: list[ClientId], length: int) -> None:
        self.scheme, self.ids, self.length = scheme, ids, length
        self.state = "new"
        self.total = np.zeros(length)
        self.got: tuple[ClientId, ...] = ()

    def start(self) -> dict[ClientId, bytes]:
        if self.state != "new":
            raise ProtocolError("started")
        self.state = "running"
        return {
            c: wire.encode(REQ, {"length": self.length}, fingerprint=self.scheme.fp)
            for c in self.ids
        }

    def step(self, replies: Mapping[ClientId, bytes | None]) -> dict[ClientId, bytes]:
        if self.state != "running":
            raise ProtocolError("not running")
        vectors = {}
        for cid, raw in replies.items():
            if cid not in self.ids:
                raise ProtocolError("unknown", client_id=cid)
            assert raw is not None
            body = wire.decode(raw, expect_type=UP, expect_fingerprint=self.scheme.fp).body
            assert isinstance(body, dict)
            if body.get("from") != cid:
                raise ProtocolError("wrong sender", client_id=cid)
            vectors[cid] = body["vector"]
        if not vectors:
            self.state = "failed"
            raise ProtocolError("nobody answered")
        self.got = tuple(sorted(vectors, key=lambda c: (isinstance(c, str), c)))
        for c in self.got:
            self.total += vectors[c]
        self.state = "done"
        return {}

    @property
    def done(self) -> bool:
        return self.state == "done"

    def result(self) -> np.ndarray:
        if self.state != "done":
            raise ProtocolError("not done")
        return self.total.copy()

    @property
    def survivors(self) -> tuple[ClientId, ...]:
        return self.got

    @property
    def exchange(self) -> int:
        return 1 if self.state == "done" else 0


class NaiveClient(ClientSession):
    def __init__(self, scheme: Naive, client_id: ClientId, update: object) -> None:
        self.scheme, self.cid = scheme, client_id
        self.vector, _ = flatten(update)
        self.finished = False

    def handle(self, message: bytes) -> bytes | None:
        if self.finished:
            raise ProtocolError("done")
        wire.decode(message, expect_type=REQ, expect_fingerprint=self.scheme.fp)
        self.finished = True
        body = {"from": self.cid, "vector": self.vector}
        return wire.encode(UP, body, fingerprint=self.scheme.fp)

    @property
    def done(self) -> bool:
        return self.finished

    @property
    def client_id(self) -> ClientId:
        return self.cid


class _TwoPhaseNoCommitCheck(TwoPhaseServer):
    """Forgets to keep dropped-at-exchange-1 clients out: sums stale vectors."""

    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Any:
        if exchange == 1:
            return Finish(total=np.zeros(self.length), survivors=self.client_ids)
        return super()._advance(exchange, replies, dropped)


class _TwoPhaseBroken(TwoPhase):
    def server(self, *, client_ids: Iterable[ClientId], length: int) -> TwoPhaseServer:
        return _TwoPhaseNoCommitCheck(self, client_ids, length)


@pytest.mark.parametrize(
    ("make", "prop"),
    [
        (_plain_with(_OffByALittle), "sum without dropouts"),
        (_plain_with(_MeanBySum, mean=True), "sum without dropouts"),
        (_plain_with(_AllSurvive), "dropouts"),
        (_plain_with(_FailsOnAnyDropout), "dropouts"),
        (Naive, "hostile messages"),
        (lambda: Naive(fingerprinted=False), "wire round trip"),
        (_TwoPhaseBroken, "sum without dropouts"),
    ],
    ids=[
        "wrong-sum",
        "mean-is-sum",
        "bad-survivors",
        "fails-on-dropout",
        "no-session-id",
        "no-fingerprint",
        "two-phase-wrong",
    ],
)
@pytest.mark.usefixtures("no_shrinking")
def test_broken_schemes_are_caught(make: Any, prop: str) -> None:
    with pytest.raises(AssertionError, match=f"property '{prop}' violated") as info:
        check_scheme(make, **FAST)
    assert str(info.value).startswith("check_scheme(")


@pytest.mark.usefixtures("no_shrinking")
def test_session_id_violation_message_names_the_attack() -> None:
    with pytest.raises(AssertionError, match=r"from another session .* was accepted"):
        check_scheme(Naive, dropouts=False, **FAST)


@pytest.mark.usefixtures("no_shrinking")
def test_scheme_crash_is_reported_as_violation() -> None:
    class Crashes(Plain):
        def client(self, *, client_id: ClientId, update: object) -> Any:
            raise KeyError("oops")

    with pytest.raises(AssertionError, match=r"scheme.client\(client_id=.*\) raised KeyError"):
        check_scheme(Crashes, max_examples=3)


# ----------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_clients": (0, 3)},
        {"n_clients": (4, 3)},
        {"n_clients": [2, 3]},
        {"length": (0, 2)},
        {"exchanges": 0},
        {"max_examples": 0},
        {"bound": -1.0},
        {"bound": float("inf")},
        {"bound": True},
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParameterError):
        check_scheme(Plain, **kwargs)


def test_bound_above_input_bound_and_infeasible_client_counts() -> None:
    class Bounded(Plain):
        @property
        def input_bound(self) -> float | None:
            return 2.0

    with pytest.raises(ParameterError, match="input_bound"):
        check_scheme(Bounded, bound=3.0)
    check_scheme(Bounded, max_examples=3)  # draws within input_bound
    with pytest.raises(ParameterError, match="min_survivors"):
        check_scheme(lambda: Plain(min_clients=9), n_clients=(2, 8))
    with pytest.raises(ParameterError, match="not a Scheme"):
        check_scheme(lambda: "plain")  # type: ignore[arg-type, return-value]


def test_import_without_hypothesis() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import privkit.testing as t\n"
        "from privkit.aggregation import Plain\n"
        "from privkit.errors import BackendUnavailableError\n"
        "for call in (lambda: t.check_scheme(Plain), lambda: t.strategies.client_ids()):\n"
        "    try:\n"
        "        call()\n"
        "    except BackendUnavailableError as e:\n"
        '        assert "privkit[testing]" in str(e), e\n'
        "    else:\n"
        "        raise SystemExit('no error')\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert issubclass(BackendUnavailableError, ImportError)
