"""``check_scheme``: property-test any aggregation scheme against the session contract.

The harness runs hypothesis property tests on freshly made schemes and raises
:class:`AssertionError` naming the first property a scheme violates:

1. **sum without dropouts**: the aggregate equals the exact sum (or mean) of all
   updates within :meth:`Scheme.tolerance`, every client survives, and the session
   obeys the call-order contract (``step``/``result`` before ``start``, ``start`` twice
   and ``step`` after done raise :class:`~privkit.errors.ProtocolError`; a finishing
   ``step`` returns no messages).
2. **dropouts**: under random dropout schedules the round either fails with
   :class:`~privkit.errors.ProtocolError` (only allowed when fewer than
   ``min_survivors`` clients remain) and stays failed, or returns the sum over its
   survivors within tolerance, where the survivors include every client that never
   dropped and none that dropped at exchange 0.
3. **wire round trip**: every message decodes with :func:`privkit.wire.decode`,
   re-encodes to the same bytes, and carries the scheme's fingerprint.
4. **hostile messages**: truncated, extended, header-corrupted, misdelivered, replayed,
   early, foreign-session and duplicate messages each raise
   :class:`~privkit.errors.DecodeError` or :class:`~privkit.errors.ProtocolError`, and
   leave the session usable (the round then completes correctly) or cleanly failed
   (every later call raises :class:`~privkit.errors.ProtocolError`); never a wrong
   result.

hypothesis is needed (the ``testing`` extra); it is imported when
:func:`check_scheme` is called.

Security assumption: none; this is a test harness.  It checks robustness against a
faulty or hostile *transport* (what the session API promises), not the confidentiality
claims of a scheme.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NoReturn, TypeVar

import numpy as np

from privkit import wire
from privkit._backends import require
from privkit.aggregation.api import (
    ClientId,
    ClientSession,
    Scheme,
    ServerSession,
    client_id_sort_key,
    describe_client_id,
)
from privkit.errors import DecodeError, ParameterError, ProtocolError
from privkit.testing import strategies as pks

__all__ = ["check_scheme"]

T = TypeVar("T")

P_SUM = "sum without dropouts"
P_DROPOUTS = "dropouts"
P_WIRE = "wire round trip"
P_HOSTILE = "hostile messages"

_REJECT = (DecodeError, ProtocolError)


class _Violation(AssertionError):
    """A property does not hold; the message names it."""

    def __init__(self, prop: str, detail: str) -> None:
        super().__init__(f"property '{prop}' violated: {detail}")
        self.prop = prop


def _fail(prop: str, detail: str) -> NoReturn:
    raise _Violation(prop, detail)


def _show(cid: object) -> str:
    return describe_client_id(cid)


def _guard(prop: str, what: str, fn: Callable[[], T]) -> T:
    """Call ``fn``; any exception is a violation of ``prop``."""
    try:
        return fn()
    except _Violation:
        raise
    except Exception as exc:
        _fail(prop, f"{what} raised {type(exc).__name__}: {exc}")


def _canonical(ids: Sequence[ClientId]) -> tuple[ClientId, ...]:
    return tuple(sorted(ids, key=client_id_sort_key))


# ----------------------------------------------------------------------------- checks


def _check_aggregate(
    prop: str,
    scheme: Scheme,
    result: object,
    contributions: Sequence[np.ndarray[Any, Any]],
    *,
    bound: float,
    length: int,
    context: str,
) -> None:
    """The result equals the exact sum (or mean) of ``contributions`` within tolerance."""
    if not isinstance(result, np.ndarray) or result.dtype != np.float64:
        _fail(prop, f"result() must return a float64 numpy array, got {type(result).__name__}")
    if result.shape != (length,):
        _fail(prop, f"result() has shape {result.shape}, expected ({length},); {context}")
    n = len(contributions)
    tol = _guard(prop, "scheme.tolerance()", lambda: scheme.tolerance(n_summands=n, bound=bound))
    if isinstance(tol, bool) or not isinstance(tol, int | float) or math.isnan(tol) or tol < 0:
        _fail(prop, f"scheme.tolerance() returned {tol!r}; it must be a float >= 0")
    if math.isinf(tol):
        return
    limit = Fraction(tol)
    mean = scheme.mean
    for j in range(length):
        exact = sum((Fraction(float(v[j])) for v in contributions), Fraction(0))
        if mean:
            exact /= n
        got = float(result[j])
        if not math.isfinite(got):
            _fail(prop, f"aggregate coordinate {j} is {got}; {context}")
        err = abs(Fraction(got) - exact)
        if err > limit:
            what = "mean" if mean else "sum"
            _fail(
                prop,
                f"aggregate coordinate {j} differs from the exact {what} of {n} updates by "
                f"{float(err):.6g}, more than scheme.tolerance(n_summands={n}, "
                f"bound={bound}) = {tol:.6g}; {context}",
            )


def _check_message(scheme_fp: bytes, raw: object, where: str) -> None:
    if not isinstance(raw, bytes):
        _fail(P_WIRE, f"{where}: a message must be bytes, got {type(raw).__name__}")
    try:
        msg = wire.decode(raw)
    except DecodeError as exc:
        _fail(P_WIRE, f"{where}: privkit.wire.decode refused the message: {exc}")
    if msg.to_bytes() != raw:
        _fail(P_WIRE, f"{where}: the message does not re-encode to the same bytes")
    if msg.fingerprint != scheme_fp:
        _fail(
            P_WIRE,
            f"{where}: the message carries fingerprint {msg.fingerprint.hex()}, not the "
            f"scheme's {scheme_fp.hex()}",
        )


def _expect_protocol_error(prop: str, what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except ProtocolError:
        return
    except _Violation:
        raise
    except Exception as exc:
        _fail(prop, f"{what} raised {type(exc).__name__}, expected ProtocolError: {exc}")
    _fail(prop, f"{what} did not raise ProtocolError")


def _check_server_failed(prop: str, server: ServerSession, why: str) -> None:
    """Every later call of a failed server raises ProtocolError."""
    if server.done:
        _fail(prop, f"server.done is True after {why}")
    _expect_protocol_error(prop, f"step() on a failed session ({why})", lambda: server.step({}))
    _expect_protocol_error(prop, f"result() on a failed session ({why})", server.result)
    _expect_protocol_error(prop, f"start() on a failed session ({why})", server.start)


def _check_client_failed(prop: str, client: ClientSession, message: bytes, why: str) -> None:
    _expect_protocol_error(
        prop, f"handle() on a failed client session ({why})", lambda: client.handle(message)
    )


# ----------------------------------------------------------------------------- rounds


@dataclass
class _Outcome:
    server: ServerSession
    steps: int = 0
    result: np.ndarray[Any, Any] | None = None
    survivors: tuple[ClientId, ...] = ()
    error: ProtocolError | None = None
    failed_at: int = -1
    messages: list[tuple[str, bytes]] = field(default_factory=list)


def _drive(
    prop: str,
    scheme: Scheme,
    ids: Sequence[ClientId],
    updates: Mapping[ClientId, object],
    length: int,
    drop_at: Mapping[ClientId, int],
    cap: int,
    *,
    contract: bool,
) -> _Outcome:
    """Run one round with a dropout schedule; protocol errors are returned, not raised."""
    server = _guard(
        prop, "scheme.server()", lambda: scheme.server(client_ids=list(ids), length=length)
    )
    clients = {
        cid: _guard(
            prop,
            f"scheme.client(client_id={_show(cid)})",
            functools.partial(scheme.client, client_id=cid, update=updates[cid]),
        )
        for cid in ids
    }
    if contract:
        _expect_protocol_error(prop, "step() before start()", lambda: server.step({}))
        _expect_protocol_error(prop, "result() before start()", server.result)
    outcome = _Outcome(server=server)
    out = _guard(prop, "server.start()", server.start)
    if contract:
        _expect_protocol_error(prop, "a second start()", server.start)
        if server.exchange != 0:
            _fail(prop, f"server.exchange is {server.exchange} after start(), expected 0")
    k = 0
    while True:
        if not isinstance(out, dict):
            _fail(prop, f"the server returned {type(out).__name__}, expected a dict")
        for cid, raw in out.items():
            if cid not in clients:
                _fail(prop, f"the server addressed unknown client {_show(cid)} in exchange {k}")
            outcome.messages.append((f"exchange {k}, server to client {_show(cid)}", raw))
        if server.done:
            if out:
                _fail(prop, "the server sent messages in the step() that finished the round")
            break
        if k >= cap:
            _fail(prop, f"the round did not finish within {cap} exchanges")
        replies: dict[ClientId, bytes] = {}
        for cid in _canonical(list(out)):
            if drop_at.get(cid, cap + 1) <= k:
                continue
            msg = out[cid]
            reply = _guard(
                prop,
                f"client {_show(cid)}.handle() in exchange {k}",
                functools.partial(clients[cid].handle, msg),
            )
            if reply is not None:
                replies[cid] = reply
                outcome.messages.append((f"exchange {k}, client {_show(cid)} to server", reply))
        try:
            out = server.step(replies)
        except ProtocolError as exc:
            outcome.error = exc
            outcome.failed_at = k
            outcome.steps = k + 1
            return outcome
        except Exception as exc:
            _fail(prop, f"server.step() in exchange {k} raised {type(exc).__name__}: {exc}")
        k += 1
        if server.exchange != k:
            _fail(prop, f"server.exchange is {server.exchange} after {k} step() calls")
    outcome.steps = k
    outcome.result = _guard(prop, "server.result()", server.result)
    outcome.survivors = _guard(prop, "server.survivors", lambda: tuple(server.survivors))
    if contract:
        _expect_protocol_error(prop, "step() after the round is done", lambda: server.step({}))
    return outcome


def _check_survivors(
    prop: str,
    survivors: tuple[ClientId, ...],
    ids: Sequence[ClientId],
    must: set[ClientId],
    must_not: set[ClientId],
    context: str,
) -> None:
    if survivors != _canonical(list(survivors)) or len(set(survivors)) != len(survivors):
        _fail(prop, f"survivors {survivors!r} are not distinct ids in canonical order")
    got = set(survivors)
    if not got <= set(ids):
        _fail(prop, f"survivors include clients not in the round; {context}")
    if missing := must - got:
        _fail(
            prop,
            f"clients {sorted(map(_show, missing))} never dropped out but are not among "
            f"the survivors; {context}",
        )
    if extra := must_not & got:
        _fail(
            prop,
            f"clients {sorted(map(_show, extra))} dropped out at exchange 0 but are "
            f"listed as survivors; {context}",
        )


# ----------------------------------------------------------------------------- hostile


def _unused_tag(used: set[int]) -> int:
    for tag in range(0x7FFF, 0x7F00, -1):
        if tag not in used:
            return tag
    return 0x7EFF  # unreachable in practice


def _flip(raw: bytes, index: int) -> bytes:
    out = bytearray(raw)
    out[index] ^= 0x01
    return bytes(out)


def _unknown_id(ids: Sequence[ClientId]) -> ClientId:
    ints = [c for c in ids if isinstance(c, int)]
    if ints:
        candidate = max(ints) + 1 if max(ints) < (1 << 64) - 1 else min(ints) - 1
        if candidate not in ids:
            return candidate
    name = "privkit.testing:unknown"
    while name in ids:
        name += "?"
    return name


def _corruptions(raw: bytes, data: Any, st: Any, unused_tag: int) -> list[tuple[str, bytes]]:
    """Envelope-level corruptions of one genuine message."""
    cut = data.draw(st.integers(0, len(raw) - 1), label="truncate at")
    magic_i = data.draw(st.integers(0, len(wire.MAGIC) - 1), label="magic byte")
    fp_i = data.draw(st.integers(8, 8 + wire.FINGERPRINT_SIZE - 1), label="fingerprint byte")
    msg = wire.decode(raw)
    return [
        ("a truncated message", raw[:cut]),
        ("a message missing its last byte", raw[:-1]),
        ("a message with trailing bytes", raw + b"\x00"),
        ("a message with a corrupted magic", _flip(raw, magic_i)),
        ("a message with a corrupted format version", _flip(raw, 4)),
        ("a message with a corrupted body length", _flip(raw, 24)),
        ("a message with a corrupted fingerprint", _flip(raw, fp_i)),
        (
            f"a message re-tagged with unused type {unused_tag:#06x}",
            wire.encode(unused_tag, msg.body, fingerprint=msg.fingerprint),
        ),
    ]


@dataclass
class _Hostile:
    """The inputs of one hostile round."""

    scheme: Scheme
    ids: Sequence[ClientId]
    updates: Mapping[ClientId, object]
    vectors: Mapping[ClientId, np.ndarray[Any, Any]]
    length: int
    bound: float
    cap: int
    lookahead: bool
    unused_tag: int
    data: Any
    st: Any


def _expect_rejection(
    what: str, fn: Callable[[], object], *, client_id: object = None, check_id: bool = False
) -> None:
    try:
        fn()
    except _REJECT as exc:
        if check_id and isinstance(exc, ProtocolError) and exc.client_id != client_id:
            _fail(
                P_HOSTILE,
                f"{what} raised ProtocolError with client_id={_show(exc.client_id)}, "
                f"expected client_id={_show(client_id)} (the key the caller must drop)",
            )
        return
    except _Violation:
        raise
    except Exception as exc:
        _fail(
            P_HOSTILE,
            f"{what} raised {type(exc).__name__}, expected DecodeError or ProtocolError: {exc}",
        )
    _fail(P_HOSTILE, f"{what} was accepted; it must raise DecodeError or ProtocolError")


def _lookahead(
    server: ServerSession,
    clients: Mapping[ClientId, ClientSession],
    out: Mapping[ClientId, bytes],
    alive: set[ClientId],
) -> tuple[dict[ClientId, bytes], dict[ClientId, bytes]]:
    """Messages and replies of the *next* exchange of this very session, via deep copies.

    Returns empty dicts when the sessions cannot be deep-copied (e.g. they hold native
    handles) or when there is no next exchange.
    """
    try:
        srv, cls = copy.deepcopy((server, dict(clients)))
        replies: dict[ClientId, bytes] = {}
        for cid in _canonical(list(out)):
            if cid in alive:
                reply = cls[cid].handle(out[cid])
                if reply is not None:
                    replies[cid] = reply
        nxt = srv.step(replies)
        later_up: dict[ClientId, bytes] = {}
        for cid in _canonical(list(nxt)):
            if cid in alive:
                reply = cls[cid].handle(nxt[cid])
                if reply is not None:
                    later_up[cid] = reply
        return dict(nxt), later_up
    except Exception:
        return {}, {}


def _attack_client(
    h: _Hostile,
    k: int,
    victim: ClientId,
    client: ClientSession,
    genuine: bytes,
    earlier: bytes | None,
    foreign: bytes | None,
    later: bytes | None,
) -> None:
    """Hostile deliveries to one client before it gets its genuine message."""
    bad = _corruptions(genuine, h.data, h.st, h.unused_tag)
    if earlier is not None:
        bad.append(("a replay of the message of an earlier exchange", earlier))
    if foreign is not None:
        bad.append(("a message from another session", foreign))
    if later is not None:
        bad.append(("a message for a later exchange", later))
    for what, raw in bad:
        _expect_rejection(
            f"client {_show(victim)} given {what} (exchange {k})",
            functools.partial(client.handle, raw),
        )


def _attack_server(
    h: _Hostile,
    k: int,
    server: ServerSession,
    out: Mapping[ClientId, bytes],
    replies: dict[ClientId, bytes],
    unknown: ClientId,
    foreign: Mapping[ClientId, bytes],
    earlier: Mapping[ClientId, bytes],
    later: Mapping[ClientId, bytes],
) -> None:
    """Hostile reply sets given to the server before the genuine one."""
    data, st = h.data, h.st
    u = data.draw(st.sampled_from(_canonical(list(replies))), label=f"sender attacked in {k}")
    bad: list[tuple[str, dict[ClientId, bytes], ClientId | None]] = [
        (f"{what} from client {_show(u)}", {**replies, u: raw}, None)
        for what, raw in _corruptions(replies[u], data, st, h.unused_tag)
    ]
    bad.append(
        (
            f"a reply of client {_show(u)} delivered under unknown id {_show(unknown)}",
            {**replies, unknown: replies[u]},
            unknown,
        )
    )
    others = [c for c in _canonical(list(out)) if c != u]
    if others:
        w = data.draw(st.sampled_from(others), label="impersonated client")
        bad.append(
            (
                f"a reply of client {_show(u)} delivered under client {_show(w)}",
                {**replies, w: replies[u]},
                w,
            )
        )
    if u in foreign:
        bad.append(
            (f"a reply of client {_show(u)} from another session", {**replies, u: foreign[u]}, u)
        )
    if u in earlier:
        bad.append(
            (
                f"a replayed reply of client {_show(u)} from exchange {k - 1}",
                {**replies, u: earlier[u]},
                u,
            )
        )
    if u in later:
        bad.append(
            (f"a reply of client {_show(u)} for exchange {k + 1}", {**replies, u: later[u]}, u)
        )
    for what, bad_replies, key in bad:
        _expect_rejection(
            f"server given {what} (exchange {k})",
            functools.partial(server.step, bad_replies),
            client_id=key,
            check_id=key is not None,
        )
        if server.done:
            _fail(P_HOSTILE, f"the server reports done after rejecting {what}")


def _hostile_round(h: _Hostile) -> None:
    """One round in which every exchange is preceded by hostile deliveries."""
    prop = P_HOSTILE
    scheme, ids, data, st = h.scheme, h.ids, h.data, h.st

    def new_server() -> ServerSession:
        return scheme.server(client_ids=list(ids), length=h.length)

    def new_clients() -> dict[ClientId, ClientSession]:
        return {c: scheme.client(client_id=c, update=h.updates[c]) for c in ids}

    server = _guard(prop, "scheme.server()", new_server)
    clients = _guard(prop, "scheme.client()", new_clients)
    # A second session of the same scheme and clients, run honestly in lockstep: the
    # source of messages "from another session".
    twin = _guard(prop, "scheme.server() (second session)", new_server)
    twin_clients = _guard(prop, "scheme.client() (second session)", new_clients)
    out = _guard(prop, "server.start()", server.start)
    twin_out = _guard(prop, "server.start() (second session)", twin.start)
    alive = set(ids)  # clients still taking part
    handled: dict[ClientId, bytes] = {}  # the last genuine message each client handled
    earlier_replies: dict[ClientId, bytes] = {}
    unknown = _unknown_id(ids)
    k = 0
    while not server.done:
        if k >= h.cap:
            _fail(prop, f"the round did not finish within {h.cap} exchanges")
        targets = [c for c in _canonical(list(out)) if c in alive]
        later_down, later_up = _lookahead(server, clients, out, alive) if h.lookahead else ({}, {})
        victim = (
            data.draw(st.sampled_from(targets), label=f"client attacked in {k}")
            if targets
            else None
        )
        if victim is not None:
            _attack_client(
                h,
                k,
                victim,
                clients[victim],
                out[victim],
                handled.get(victim),
                twin_out.get(victim) if victim in handled else None,  # only once bound
                later_down.get(victim),
            )
        replies: dict[ClientId, bytes] = {}
        for c in targets:
            try:
                reply = clients[c].handle(out[c])
            except _REJECT as exc:
                if c != victim:
                    _fail(prop, f"client {_show(c)} rejected a genuine message: {exc}")
                # The attacked client failed closed: it must stay failed; it drops out.
                _check_client_failed(prop, clients[c], out[c], f"it rejected {type(exc).__name__}")
                alive.discard(c)
                continue
            except _Violation:
                raise
            except Exception as exc:
                _fail(
                    prop,
                    f"client {_show(c)}.handle() of a genuine message raised "
                    f"{type(exc).__name__}: {exc}",
                )
            handled[c] = out[c]
            if reply is not None:
                replies[c] = reply
            if c == victim:
                _expect_rejection(
                    f"client {_show(c)} given a duplicate delivery (exchange {k})",
                    functools.partial(clients[c].handle, out[c]),
                )
        twin_replies: dict[ClientId, bytes] = {}
        for c in _canonical(list(twin_out)):
            r = _guard(
                prop,
                "a client of the second session",
                functools.partial(twin_clients[c].handle, twin_out[c]),
            )
            if r is not None:
                twin_replies[c] = r
        if replies:
            _attack_server(
                h, k, server, out, replies, unknown, twin_replies, earlier_replies, later_up
            )
        try:
            out = server.step(replies)
        except _REJECT as exc:
            # Acceptable only as a clean failure: too few clients left after the
            # attacked one failed closed, or the scheme fails closed on attacks.
            _check_server_failed(prop, server, f"it rejected genuine replies ({exc})")
            return
        except _Violation:
            raise
        except Exception as exc:
            _fail(prop, f"server.step() with genuine replies raised {type(exc).__name__}: {exc}")
        alive -= set(targets) - set(replies)
        earlier_replies = replies
        twin_out = (
            _guard(prop, "the second session", functools.partial(twin.step, twin_replies))
            if not twin.done
            else {}
        )
        k += 1
    result = _guard(prop, "server.result()", server.result)
    survivors = _guard(prop, "server.survivors", lambda: tuple(server.survivors))
    context = f"after hostile messages; {len(ids)} clients, length {h.length}"
    _check_survivors(prop, survivors, ids, alive, set(), context)
    _check_aggregate(
        prop,
        scheme,
        result,
        [h.vectors[c] for c in survivors],
        bound=h.bound,
        length=h.length,
        context=context,
    )
    if earlier_replies:
        _expect_rejection(
            "server given the final replies again after the round is done",
            functools.partial(server.step, earlier_replies),
        )
        again = _guard(prop, "server.result()", server.result)
        if not np.array_equal(again, result):
            _fail(prop, "result() changed after a replayed message was rejected")


# ----------------------------------------------------------------------------- entry


def _check_range(name: str, value: object, lowest: int) -> tuple[int, int]:
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not lowest <= value[0] <= value[1]
    ):
        raise ParameterError(
            f"{name} must be a (min, max) tuple of ints with {lowest} <= min <= max"
        )
    return value[0], value[1]


def check_scheme(
    make_scheme: Callable[[], Scheme],
    *,
    n_clients: tuple[int, int] = (2, 8),
    length: tuple[int, int] = (1, 32),
    bound: float | None = None,
    exchanges: int = 8,
    max_examples: int = 50,
    dropouts: bool = True,
    hostile: bool = True,
) -> None:
    """Property-test a scheme against the contract of the session API.

    Each property runs as its own hypothesis test with ``max_examples`` examples; a
    failing example is shrunk and reported (hypothesis prints it) before this function
    raises.  Updates are float64 vectors with ``|x| <= bound``, passed to
    ``scheme.client`` either as an array or as a dict of two arrays.  Call it from a
    plain test function, not from inside another hypothesis test.

    Args:
        make_scheme: returns a new scheme (called once per example, so that keys or
            other state are fresh).
        n_clients: the (min, max) number of clients of a round.
        length: the (min, max) number of coordinates of the updates.
        bound: the largest ``|x|`` of an update coordinate; default
            ``scheme.input_bound`` or 1.0 when that is None.
        exchanges: the most exchanges a round may take before it counts as hanging.
        max_examples: hypothesis examples per property.
        dropouts: also test random dropout schedules (property 2).
        hostile: also test hostile messages (property 4).

    Raises:
        AssertionError: a property does not hold; the message names it and the scheme.
        ParameterError: an invalid argument, ``bound`` above ``scheme.input_bound``, or
            no client count in ``n_clients`` that ``scheme.min_survivors`` allows.
        BackendUnavailableError: hypothesis is not installed.
    """
    lo_n, hi_n = _check_range("n_clients", n_clients, 1)
    lo_len, hi_len = _check_range("length", length, 1)
    for name, value in (("exchanges", exchanges), ("max_examples", max_examples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
    if not callable(make_scheme):
        raise ParameterError("make_scheme must be a callable returning a Scheme")
    probe = make_scheme()
    if not isinstance(probe, Scheme):
        raise ParameterError(f"make_scheme() returned {type(probe).__name__}, not a Scheme")
    limit = probe.input_bound
    if bound is None:
        b = 1.0 if limit is None else float(limit)
    else:
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ParameterError(f"bound must be a finite number > 0, got {bound!r}")
        b = float(bound)
        if not math.isfinite(b) or b <= 0:
            raise ParameterError(f"bound must be a finite number > 0, got {bound!r}")
        if limit is not None and b > limit:
            raise ParameterError(f"bound {b} exceeds the scheme's input_bound {limit}")
    feasible = [n for n in range(lo_n, hi_n + 1) if probe.min_survivors(n) <= n]
    if not feasible:
        raise ParameterError(
            f"no client count in n_clients={n_clients} reaches scheme.min_survivors(n); "
            "raise the range"
        )

    require("hypothesis", feature="privkit.testing.check_scheme")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    config = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    seen_exchanges = [1]
    used_tags: set[int] = set()

    ids_strategy = st.sampled_from(feasible).flatmap(lambda n: pks.client_ids(n, n, kind="mixed"))

    def draw_round(data: Any, ids: list[ClientId]) -> tuple[int, dict[ClientId, object]]:
        n = data.draw(st.integers(lo_len, hi_len), label="length")
        vecs = {c: data.draw(pks.vectors(n, bound=b), label=f"update {_show(c)}") for c in ids}
        updates: dict[ClientId, object] = {}
        for c, v in vecs.items():
            if data.draw(st.booleans(), label=f"update {_show(c)} as a dict"):
                cut = data.draw(st.integers(0, n), label="split")
                updates[c] = {"head": v[:cut], "tail": v[cut:]}
            else:
                updates[c] = v
        return n, updates

    def flat(update: object) -> np.ndarray[Any, Any]:
        if isinstance(update, dict):
            return np.concatenate([update["head"], update["tail"]])
        assert isinstance(update, np.ndarray)
        return update

    @config
    @given(ids=ids_strategy, data=st.data())
    def prop_sum(ids: list[ClientId], data: Any) -> None:
        n_len, updates = draw_round(data, ids)
        scheme = make_scheme()
        outcome = _drive(P_SUM, scheme, ids, updates, n_len, {}, exchanges, contract=True)
        if outcome.error is not None:
            _fail(
                P_SUM,
                f"the round failed without dropouts: ProtocolError: {outcome.error}",
            )
        seen_exchanges[0] = max(seen_exchanges[0], outcome.steps)
        context = f"{len(ids)} clients, length {n_len}"
        _check_survivors(P_SUM, outcome.survivors, ids, set(ids), set(), context)
        _check_aggregate(
            P_SUM,
            scheme,
            outcome.result,
            [flat(updates[c]) for c in _canonical(ids)],
            bound=b,
            length=n_len,
            context=context,
        )
        scheme_fp = scheme.fingerprint
        for where, raw in outcome.messages:
            _check_message(scheme_fp, raw, where)
            used_tags.add(wire.decode(raw).type_tag)

    @config
    @given(ids=ids_strategy, data=st.data())
    def prop_dropouts(ids: list[ClientId], data: Any) -> None:
        n_len, updates = draw_round(data, ids)
        schedule = data.draw(pks.dropout_schedules(ids, seen_exchanges[0] + 1), label="dropouts")
        drop_at = {c: e for e, cs in schedule.items() for c in cs}
        scheme = make_scheme()
        m = scheme.min_survivors(len(ids))
        outcome = _drive(
            P_DROPOUTS, scheme, ids, updates, n_len, drop_at, exchanges, contract=False
        )
        context = f"{len(ids)} clients, length {n_len}, dropouts {schedule!r}"
        if outcome.error is not None:
            f = outcome.failed_at
            remaining = len(ids) - sum(1 for e in drop_at.values() if e <= f)
            if remaining >= m:
                _fail(
                    P_DROPOUTS,
                    f"step() of exchange {f} raised ProtocolError ({outcome.error}) although "
                    f"{remaining} clients remained and min_survivors is {m}; {context}",
                )
            _check_server_failed(P_DROPOUTS, outcome.server, "a ProtocolError from step()")
            return
        dropped = {c for c, e in drop_at.items() if e < outcome.steps}
        never = set(ids) - dropped
        at_zero = {c for c, e in drop_at.items() if e == 0}
        _check_survivors(P_DROPOUTS, outcome.survivors, ids, never, at_zero, context)
        _check_aggregate(
            P_DROPOUTS,
            scheme,
            outcome.result,
            [flat(updates[c]) for c in outcome.survivors],
            bound=b,
            length=n_len,
            context=context,
        )

    @config
    @given(ids=ids_strategy, data=st.data())
    def prop_hostile(ids: list[ClientId], data: Any) -> None:
        n_len, updates = draw_round(data, ids)
        _hostile_round(
            _Hostile(
                scheme=make_scheme(),
                ids=ids,
                updates=updates,
                vectors={c: flat(u) for c, u in updates.items()},
                length=n_len,
                bound=b,
                cap=exchanges,
                lookahead=seen_exchanges[0] > 1,
                unused_tag=_unused_tag(used_tags),
                data=data,
                st=st,
            )
        )

    properties: list[Callable[[], None]] = [prop_sum]
    if dropouts:
        properties.append(prop_dropouts)
    if hostile:
        properties.append(prop_hostile)
    for test in properties:
        try:
            test()
        except AssertionError as exc:
            raise AssertionError(f"check_scheme({probe!r}): {exc}") from exc
