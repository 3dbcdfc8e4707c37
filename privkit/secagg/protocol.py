"""SecAgg (Bonawitz et al., CCS 2017) and SecAgg+ (Bell et al., CCS 2020) as a privkit Scheme.

Exchanges (server request -> client reply):

====  ===========================  ===================================================
 0    roster, length, threshold    two X25519 public keys (signed in authenticated mode)
 1    neighbours' public keys      Shamir shares of the mask key and the self-mask seed,
                                   encrypted to each neighbour; a commitment to the seed
 2    shares addressed to me       the masked update: one ring element per coordinate
(3)   survivors (authenticated)    an Ed25519 signature over the survivors
 3/4  survivors                    per neighbour: a self-mask-seed share if it survived,
                                   a mask-key share if it dropped -- never both
====  ===========================  ===================================================

A client's masked update is ``encode(x) + PRG(b) + sum_v +-PRG(s_uv)`` in Z_2^32 (or
Z_2^64), where ``b`` is its self-mask seed and ``s_uv`` the seed agreed with neighbour v
(X25519 + HKDF); the sign is + towards higher client ids.  When the masked updates of
the survivors are added, pairwise masks between survivors cancel; the server removes
the survivors' self masks and the dropped clients' pairwise masks from the shares the
survivors reveal.  The ChaCha20 kernel (:mod:`privkit.prg`) expands every mask.

Threat model (docs/secagg.md): the server and up to ``threshold - 1`` clients of any
neighbourhood may collude and see every message; they learn the sum over the survivors
and nothing else about an individual update, whatever drops out when.  Messages travel
through the server; shares are end-to-end encrypted and authenticated between clients.
Without a roster the server is trusted to relay faithfully (honest-but-curious); with
one (``roster=``), key advertisements and the survivor set are signed with Ed25519 node
identities, so the server can neither invent clients nor show clients different
survivor sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from privkit import prg, wire
from privkit.aggregation.api import (
    ClientId,
    Scheme,
    check_client_id,
    check_client_ids,
    client_id_sort_key,
    describe_client_id,
    is_client_id,
)
from privkit.aggregation.session import (
    BaseClientSession,
    BaseServerSession,
    ExchangeSpec,
    Finish,
    Payload,
)
from privkit.aggregation.weights import Weighting
from privkit.encoding import FixedPoint, flatten
from privkit.errors import DecodeError, ParameterError, ProtocolError, VerificationError
from privkit.identity import NodeIdentity, Roster
from privkit.secagg import keys
from privkit.secagg.graph import degree_for, neighbourhoods, resolve_threshold
from privkit.sharing import shamir
from privkit.wire import MessageType, Value

__all__ = ["SecAgg", "SecAggClientSession", "SecAggServerSession"]

_ADVERTISE = ExchangeSpec(MessageType.SECAGG_ADVERTISE, MessageType.SECAGG_KEYS)
_SHARE = ExchangeSpec(MessageType.SECAGG_SHARE_REQUEST, MessageType.SECAGG_SHARES)
_MASK = ExchangeSpec(MessageType.SECAGG_MASK_REQUEST, MessageType.SECAGG_MASKED_INPUT)
_CONSISTENCY = ExchangeSpec(MessageType.SECAGG_CONSISTENCY_REQUEST, MessageType.SECAGG_CONSISTENCY)
_UNMASK = ExchangeSpec(MessageType.SECAGG_UNMASK_REQUEST, MessageType.SECAGG_UNMASK)

_ADVERTISE_CONTEXT: Final = "privkit.secagg.v1.advertise"
_CONSISTENCY_CONTEXT: Final = "privkit.secagg.v1.survivors"
_MAX_CIPHERTEXT: Final = 4096
_SEED_BYTES: Final = 32
_SHARE_ELEMENTS: Final = -(-_SEED_BYTES // shamir.CHUNK_BYTES)  # field elements per share


def _canonical(ids: Iterable[ClientId]) -> list[ClientId]:
    return sorted(ids, key=client_id_sort_key)


def _id_list(value: Value, what: str, who: str) -> list[ClientId]:
    """Parse a canonical, duplicate-free list of client ids (DecodeError if malformed)."""
    if not isinstance(value, list) or not all(is_client_id(v) for v in value):
        raise DecodeError(f"{who}: {what} must be a list of client ids")
    ids: list[ClientId] = [v for v in value if isinstance(v, int | str)]
    if ids != _canonical(ids) or len(set(ids)) != len(ids):
        raise DecodeError(f"{who}: {what} must be in canonical order without duplicates")
    return ids


def _bytes_list(value: Value, what: str, who: str, *, size: int | None = None) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
        raise DecodeError(f"{who}: {what} must be a list of byte strings")
    out = [v for v in value if isinstance(v, bytes)]
    if size is not None and any(len(v) != size for v in out):
        raise DecodeError(f"{who}: every entry of {what} must be {size} bytes")
    return out


def _fields(data: Payload, names: set[str], who: str) -> None:
    if set(data) != names:
        raise DecodeError(f"{who}: expected the fields {sorted(names)}, got {sorted(data)}")


def _graph_seed(session: bytes, advertised: Sequence[tuple[ClientId, bytes, bytes]]) -> bytes:
    """The ring seed of SecAgg+: fixed by the session and every public key of exchange 0."""
    body = wire.encode_value([session, [[cid, c, s] for cid, c, s in advertised]])
    return hashlib.sha256(b"privkit/secagg/v1/graph/" + body).digest()


def _advertisement(session: bytes, cid: ClientId, c_pk: bytes, s_pk: bytes) -> bytes:
    return wire.encode_value({"session": session, "client": cid, "c_pk": c_pk, "s_pk": s_pk})


def _survivor_statement(session: bytes, survivors: Sequence[ClientId]) -> bytes:
    return wire.encode_value({"session": session, "survivors": list(survivors)})


class SecAgg(Scheme):
    """Secure aggregation with dropout recovery: SecAgg, or SecAgg+ with ``neighbours=k``.

    Args:
        threshold: shares needed to recover a client's keys: an int t >= 2, or a
            fraction of the share holders (the whole roster for SecAgg, a client's k
            neighbours plus itself for SecAgg+), rounded up.  Higher tolerates fewer
            dropouts but more collusion (see :func:`privkit.secagg.guarantees`).
        neighbours: None for the complete graph (SecAgg); an int k >= 2 for SecAgg+,
            each client masking with and sharing among k random neighbours (odd k is
            rounded up to even).
        encoding: the fixed-point map into the ring; by default
            ``FixedPoint.for_sum(n_summands=max_clients, clip=clip, bits=bits)``.
        clip: the largest |coordinate| kept (larger values are clipped) for the
            default encoding.
        bits: ring width of the default encoding: 32 (4 bytes per parameter on the
            wire) or 64.
        max_clients: the most clients a round may have; the default encoding leaves
            room for that many summands, so the sum never wraps.
        weighted: return the weighted mean; each client passes ``weight=`` to
            :meth:`client`, and weights travel inside the secure sum.
        max_weight: the largest accepted weight (weighted mode).
        mean: return the mean over survivors instead of the sum (unweighted mode).
        roster: admitted node identities; enables the authenticated mode, in which
            every client passes its ``identity=`` to :meth:`client`.

    Raises:
        ParameterError: invalid or inconsistent parameters.

    Security assumption: see the module docstring and docs/secagg.md.
    """

    name: ClassVar[str] = "privkit.secagg.v1"

    def __init__(
        self,
        *,
        threshold: int | float,
        neighbours: int | None = None,
        encoding: FixedPoint | None = None,
        clip: float = 1.0,
        bits: int = 32,
        max_clients: int = 1024,
        weighted: bool = False,
        max_weight: float = 1.0,
        mean: bool = False,
        roster: Roster | None = None,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ParameterError(f"threshold must be an int or a fraction, got {threshold!r}")
        if isinstance(threshold, int) and threshold < 2:
            raise ParameterError(f"threshold must be at least 2 shares, got {threshold}")
        if isinstance(threshold, float) and not 0.0 < threshold <= 1.0:
            raise ParameterError(f"a fractional threshold must be in (0, 1], got {threshold}")
        if neighbours is not None and (
            isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 2
        ):
            raise ParameterError(f"neighbours must be None or an int >= 2, got {neighbours!r}")
        if isinstance(max_clients, bool) or not isinstance(max_clients, int) or max_clients < 2:
            raise ParameterError(f"max_clients must be an int >= 2, got {max_clients!r}")
        weights = Weighting(weighted=weighted, max_weight=max_weight, mean=mean)
        if roster is not None and not isinstance(roster, Roster):
            raise ParameterError(
                f"roster must be a privkit.identity.Roster, got {type(roster).__name__}"
            )
        if not isinstance(clip, int | float) or not 0 < clip < float("inf"):
            raise ParameterError(f"clip must be a positive finite number, got {clip!r}")
        # Weighted mode sums weight * x and the weight itself: both must fit the codec.
        needed = max(float(clip), 1.0) * float(max_weight) if weighted else float(clip)
        if encoding is None:
            if bits not in (32, 64):
                raise ParameterError(f"bits must be 32 or 64, got {bits!r}")
            encoding = FixedPoint.for_sum(n_summands=max_clients, clip=needed, bits=bits)
        elif not isinstance(encoding, FixedPoint):
            raise ParameterError(f"encoding must be a FixedPoint, got {type(encoding).__name__}")
        elif weighted and encoding.clip < needed:
            raise ParameterError(
                f"weighted mode needs an encoding with clip >= max_weight * max(clip, 1) = "
                f"{needed}, got {encoding.clip}"
            )
        elif encoding.max_summands < max_clients:
            raise ParameterError(
                f"the encoding can add at most {encoding.max_summands} values without "
                f"wrapping, fewer than max_clients={max_clients}; lower max_clients or "
                "use FixedPoint.for_sum(n_summands=max_clients, ...)"
            )
        self._threshold = threshold
        self._neighbours = neighbours
        self._codec = encoding
        # Unweighted, the codec clips; weighted, updates are clipped to `clip` first.
        self._clip = float(clip) if weighted else float(encoding.clip)
        self._max_clients = max_clients
        self._weights = weights
        self._roster = roster

    # ------------------------------------------------------------------ parameters

    @property
    def encoding(self) -> FixedPoint:
        """The fixed-point map of updates into the ring."""
        return self._codec

    @property
    def roster(self) -> Roster | None:
        """The admitted identities (authenticated mode), or None."""
        return self._roster

    @property
    def weighted(self) -> bool:
        """Whether the result is the weighted mean."""
        return self._weights.weighted

    @property
    def mean(self) -> bool:
        return self._weights.mean or self._weights.weighted

    @property
    def input_bound(self) -> float | None:
        return self._clip

    def params(self) -> dict[str, Value]:
        return {
            "threshold": self._threshold,
            "neighbours": self._neighbours,
            "encoding": dict(self._codec.params()),
            "max_clients": self._max_clients,
            "weighted": self._weights.weighted,
            "max_weight": self._weights.max_weight,
            "mean": self._weights.mean,
            "roster": None if self._roster is None else self._roster.fingerprint,
        }

    def _exchanges(self) -> tuple[ExchangeSpec, ...]:
        if self._roster is None:
            return (_ADVERTISE, _SHARE, _MASK, _UNMASK)
        return (_ADVERTISE, _SHARE, _MASK, _CONSISTENCY, _UNMASK)

    def group(self, n_clients: int) -> tuple[int, int]:
        """(degree, threshold) for a round of ``n_clients``: neighbours and shares needed."""
        degree = degree_for(self._neighbours, n_clients)
        return degree, resolve_threshold(self._threshold, degree + 1)

    def min_survivors(self, n_clients: int) -> int:
        if n_clients < 2:
            return 2
        try:
            degree, t = self.group(n_clients)
        except ParameterError:
            return n_clients + 1
        # Any n - survivors <= holders - t dropouts leave every neighbourhood t holders.
        return max(t, n_clients - (degree + 1 - t))

    def tolerance(self, *, n_summands: int, bound: float) -> float:
        err = self._codec.max_error(max(1, min(n_summands, self._codec.max_summands)))
        if self._weights.weighted:
            # unit weights: numerator and denominator each off by at most err
            return 2.0 * (1.0 + bound) * err / max(1, n_summands) * 1.0001
        return err / n_summands if self._weights.mean else err

    def server(self, *, client_ids: Iterable[ClientId], length: int) -> SecAggServerSession:
        ids = check_client_ids(client_ids)
        if len(ids) < 2:
            raise ParameterError("secure aggregation needs at least 2 clients")
        if len(ids) > self._max_clients:
            raise ParameterError(
                f"{len(ids)} clients exceed max_clients={self._max_clients} of this scheme"
            )
        if self._roster is not None:
            unknown = [cid for cid in ids if cid not in self._roster]
            if unknown:
                raise ParameterError(
                    f"clients {[describe_client_id(c) for c in unknown[:5]]} are not in the roster"
                )
        _, t = self.group(len(ids))
        return SecAggServerSession(self, ids, length, t)

    def client(
        self,
        *,
        client_id: ClientId,
        update: object,
        weight: float | None = None,
        identity: NodeIdentity | None = None,
    ) -> SecAggClientSession:
        """A client session; see :class:`SecAgg` for ``weight`` and ``identity``.

        Raises:
            ParameterError: a bad update, a weight in unweighted mode (or outside
                [0, max_weight]), or a missing or foreign identity in authenticated mode.
        """
        cid = check_client_id(client_id)
        vector, _ = flatten(update)
        w = self._weights.client_weight(weight)
        if self._roster is not None:
            if not isinstance(identity, NodeIdentity):
                raise ParameterError("this scheme has a roster: pass the client's identity=")
            if cid not in self._roster or self._roster.public_key(cid) != identity.public_key:
                raise ParameterError(
                    f"identity does not match the roster entry of client {describe_client_id(cid)}"
                )
        elif identity is not None:
            raise ParameterError("identity= needs a scheme built with roster=")
        return SecAggClientSession(self, cid, vector, float(w), identity)

    # ------------------------------------------------------------------ ring helpers

    def _encode(self, vector: npt.NDArray[np.float64], weight: float) -> npt.NDArray[Any]:
        if self._weights.weighted:
            # weighted: clip first, so the codec's range covers w * x and w
            vector = np.clip(vector, -self._clip, self._clip)
        return self._codec.encode(self._weights.prepare(vector, weight))

    def _ring_length(self, length: int) -> int:
        return self._weights.length(length)


class SecAggServerSession(BaseServerSession):
    """The server side of one SecAgg round (see :class:`SecAgg`)."""

    def __init__(
        self, scheme: SecAgg, ids: Sequence[ClientId], length: int, threshold: int
    ) -> None:
        ring_bytes = scheme._ring_length(length) * np.dtype(scheme.encoding.dtype).itemsize
        super().__init__(
            fingerprint=scheme.fingerprint,
            exchanges=scheme._exchanges(),
            client_ids=ids,
            length=length,
            min_survivors=threshold,
            mean=scheme._weights.mean,
            max_reply_size=ring_bytes + 1024 * len(ids) + (1 << 20),
        )
        self._scheme = scheme
        self._t = threshold
        self._keys: dict[ClientId, tuple[bytes, bytes, bytes]] = {}
        self._u1: list[ClientId] = []
        self._nbrs: dict[ClientId, frozenset[ClientId]] = {}
        self._holders: dict[ClientId, list[ClientId]] = {}
        self._commit: dict[ClientId, bytes] = {}
        self._u2: list[ClientId] = []
        self._u3: list[ClientId] = []
        self._total: npt.NDArray[Any] | None = None
        self._sigs: dict[ClientId, bytes] = {}

    @property
    def threshold(self) -> int:
        """Shares needed to recover one client's keys in this round."""
        return self._t

    def _last(self) -> int:
        return len(self._scheme._exchanges()) - 1

    def _who(self, cid: ClientId) -> str:
        return f"reply from client {describe_client_id(cid)}"

    # -- exchange 0 -------------------------------------------------------------

    def _open(self) -> Mapping[ClientId, Payload]:
        ids: list[Value] = list(self.client_ids)
        msg: Payload = {"clients": ids, "length": self.length, "threshold": self._t}
        return {cid: msg for cid in self.client_ids}

    def _check_reply(self, exchange: int, client_id: ClientId, data: Payload) -> object:
        who = self._who(client_id)
        if exchange == 0:
            return self._check_keys(client_id, data, who)
        if exchange == 1:
            return self._check_shares(client_id, data, who)
        if exchange == 2:
            _fields(data, {"y"}, who)
            y = data["y"]
            ring = self._scheme.encoding.dtype
            want = (self._scheme._ring_length(self.length),)
            if not isinstance(y, np.ndarray) or y.dtype != ring or y.shape != want:
                raise ProtocolError(
                    f"{who}: the masked update must be {np.dtype(ring).name} of shape {want}",
                    client_id=client_id,
                )
            return y
        if exchange < self._last():
            _fields(data, {"sig"}, who)
            sig = data["sig"]
            if not isinstance(sig, bytes):
                raise DecodeError(f"{who}: sig must be bytes")
            self._verify(
                client_id,
                _survivor_statement(self.session_id, self._u3),
                sig,
                _CONSISTENCY_CONTEXT,
            )
            return sig
        return self._check_unmask(client_id, data, who)

    def _verify(self, cid: ClientId, message: bytes, sig: bytes, context: str) -> None:
        roster = self._scheme.roster
        assert roster is not None
        try:
            roster.verify(cid, message, sig, context=context)
        except VerificationError as exc:
            raise ProtocolError(
                f"client {describe_client_id(cid)}: signature does not verify", client_id=cid
            ) from exc

    def _check_keys(self, cid: ClientId, data: Payload, who: str) -> tuple[bytes, bytes, bytes]:
        _fields(data, {"c_pk", "s_pk", "sig"}, who)
        c_pk = keys.check_public_key(data["c_pk"], f"{who}: c_pk", cid)
        s_pk = keys.check_public_key(data["s_pk"], f"{who}: s_pk", cid)
        sig = data["sig"]
        if not isinstance(sig, bytes):
            raise DecodeError(f"{who}: sig must be bytes")
        if c_pk == s_pk:
            raise ProtocolError(f"{who}: the two public keys must differ", client_id=cid)
        if self._scheme.roster is not None:
            self._verify(
                cid, _advertisement(self.session_id, cid, c_pk, s_pk), sig, _ADVERTISE_CONTEXT
            )
        elif sig:
            raise ProtocolError(f"{who}: unexpected signature (no roster)", client_id=cid)
        return c_pk, s_pk, sig

    def _check_shares(
        self, cid: ClientId, data: Payload, who: str
    ) -> tuple[list[ClientId], list[bytes], bytes]:
        _fields(data, {"to", "ct", "b_commit"}, who)
        to = _id_list(data["to"], "to", who)
        cts = _bytes_list(data["ct"], "ct", who)
        commit = data["b_commit"]
        if set(to) != self._nbrs[cid] or len(cts) != len(to):
            raise ProtocolError(
                f"{who}: shares must go to exactly the client's {len(self._nbrs[cid])} neighbours",
                client_id=cid,
            )
        if any(len(ct) > _MAX_CIPHERTEXT for ct in cts):
            raise ProtocolError(f"{who}: an encrypted share is too large", client_id=cid)
        if not isinstance(commit, bytes) or len(commit) != 32:
            raise DecodeError(f"{who}: b_commit must be 32 bytes")
        return to, cts, commit

    def _check_unmask(
        self, cid: ClientId, data: Payload, who: str
    ) -> dict[str, dict[ClientId, shamir.Share]]:
        _fields(data, {"b_from", "b", "s_from", "s"}, who)
        survivors = set(self._u3)
        out: dict[str, dict[ClientId, shamir.Share]] = {}
        for kind, allowed in (("b", survivors), ("s", set(self._u2) - survivors)):
            owners = _id_list(data[f"{kind}_from"], f"{kind}_from", who)
            raw = _bytes_list(data[kind], kind, who)
            if len(raw) != len(owners):
                raise DecodeError(f"{who}: {kind}_from and {kind} differ in length")
            shares: dict[ClientId, shamir.Share] = {}
            for owner, blob in zip(owners, raw, strict=True):
                if owner not in allowed or cid not in self._holders.get(owner, ()):
                    raise ProtocolError(
                        f"{who}: a {'self-mask' if kind == 'b' else 'key'} share of client "
                        f"{describe_client_id(owner)} was not asked for",
                        client_id=cid,
                    )
                share = shamir.Share.from_bytes(blob)
                expect = self._holders[owner].index(cid) + 1
                if (
                    share.index != expect
                    or share.threshold != self._t
                    or share.secret_bytes != _SEED_BYTES
                ):
                    raise ProtocolError(
                        f"{who}: malformed share of client {describe_client_id(owner)}",
                        client_id=cid,
                    )
                shares[owner] = share
            out[kind] = shares
        if set(out["b"]) & set(out["s"]):
            raise ProtocolError(f"{who}: both kinds of share for one client", client_id=cid)
        return out

    # -- the state machine ------------------------------------------------------

    def _advance(
        self, exchange: int, replies: Mapping[ClientId, Any], dropped: frozenset[ClientId]
    ) -> Mapping[ClientId, Payload] | Finish:
        if exchange == 0:
            return self._after_keys(replies)
        if exchange == 1:
            return self._after_shares(replies)
        if exchange == 2:
            return self._after_masked(replies)
        if exchange < self._last():
            self._sigs = dict(replies)
            return self._unmask_requests(list(replies))
        return self._after_unmask(replies)

    def _after_keys(
        self, replies: Mapping[ClientId, tuple[bytes, bytes, bytes]]
    ) -> Mapping[ClientId, Payload]:
        self._keys = dict(replies)
        self._u1 = list(replies)
        if len(self._u1) < self._t:
            raise ProtocolError(
                f"SecAgg needs {self._t} clients to advertise keys; {len(self._u1)} answered"
            )
        degree = degree_for(self._scheme._neighbours, len(self._u1))
        if degree + 1 < self._t:
            raise ProtocolError(
                f"only {len(self._u1)} clients answered: each would have {degree + 1} share "
                f"holders, fewer than the threshold {self._t}"
            )
        seed = _graph_seed(self.session_id, [(c, *self._keys[c][:2]) for c in self._u1])
        nbr_pos = neighbourhoods(self._u1, degree=degree, seed=seed)
        self._nbrs = {c: frozenset(self._u1[j] for j in nbr_pos[i]) for i, c in enumerate(self._u1)}
        self._holders = {c: _canonical(self._nbrs[c] | {c}) for c in self._u1}
        out: dict[ClientId, Payload] = {}
        u1: list[Value] = list(self._u1)
        for c in self._u1:
            nb = _canonical(self._nbrs[c])
            out[c] = {
                "clients": u1,
                "seed": seed,
                "ids": list[Value](nb),
                "c_pk": [self._keys[v][0] for v in nb],
                "s_pk": [self._keys[v][1] for v in nb],
                "sig": [self._keys[v][2] for v in nb],
            }
        return out

    def _after_shares(
        self, replies: Mapping[ClientId, tuple[list[ClientId], list[bytes], bytes]]
    ) -> Mapping[ClientId, Payload]:
        active = set(replies)
        # Every client that sent shares must keep t holders of them (itself included):
        # otherwise its self mask could never be removed.  Leaving it out would drop a
        # live client's input without a word, so the round fails instead.
        for c in _canonical(active):
            holders = len(self._nbrs[c] & active) + 1
            if holders < self._t:
                raise ProtocolError(
                    f"cannot continue: client {describe_client_id(c)}'s keys are held by "
                    f"{holders} clients that sent shares, {self._t} are needed "
                    f"({len(replies)} of {len(self._u1)} clients answered exchange 1)"
                )
        self._u2 = _canonical(active)
        self._commit = {c: replies[c][2] for c in self._u2}
        inbox: dict[ClientId, dict[ClientId, bytes]] = {c: {} for c in self._u2}
        for sender in self._u2:
            to, cts, _ = replies[sender]
            for receiver, ct in zip(to, cts, strict=True):
                if receiver in active:
                    inbox[receiver][sender] = ct
        return {
            c: {"from": list[Value](_canonical(box)), "ct": [box[s] for s in _canonical(box)]}
            for c, box in inbox.items()
        }

    def _after_masked(
        self, replies: Mapping[ClientId, npt.NDArray[Any]]
    ) -> Mapping[ClientId, Payload]:
        survivors = set(replies)
        for c in self._u2:
            held = len(set(self._holders[c]) & survivors)
            if held < self._t:
                raise ProtocolError(
                    f"cannot unmask: client {describe_client_id(c)}'s shares are held by "
                    f"{held} remaining clients, {self._t} are needed"
                )
        self._u3 = _canonical(survivors)
        total = np.zeros(self._scheme._ring_length(self.length), dtype=self._scheme.encoding.dtype)
        for y in replies.values():
            total += y  # wraps mod 2^32 / 2^64, as the ring wants
        self._total = total
        if self._scheme.roster is not None:
            return {c: {"survivors": list[Value](self._u3)} for c in self._u3}
        return self._unmask_requests(self._u3)

    def _unmask_requests(self, recipients: Sequence[ClientId]) -> Mapping[ClientId, Payload]:
        msg: Payload = {"survivors": list[Value](self._u3)}
        if self._scheme.roster is not None:
            signers = _canonical(self._sigs)
            msg["signers"] = list[Value](signers)
            msg["sigs"] = [self._sigs[c] for c in signers]
        return {c: msg for c in recipients}

    def _after_unmask(
        self, replies: Mapping[ClientId, dict[str, dict[ClientId, shamir.Share]]]
    ) -> Finish:
        survivors = set(self._u3)
        collected: dict[str, dict[ClientId, list[shamir.Share]]] = {"b": {}, "s": {}}
        for holder in replies:
            for kind in ("b", "s"):
                for owner, share in replies[holder][kind].items():
                    collected[kind].setdefault(owner, []).append(share)
        groups: list[list[shamir.Share]] = []
        for owner in self._u2:
            kind = "b" if owner in survivors else "s"
            got = collected[kind].get(owner, [])
            if len(got) < self._t:
                raise ProtocolError(
                    f"cannot unmask client {describe_client_id(owner)}: {len(got)} of its "
                    f"{'self-mask' if kind == 'b' else 'key'} shares arrived, {self._t} are needed"
                )
            groups.append(got[: self._t])
        # Exactly t shares each; one Lagrange computation per distinct holder set.  The
        # commitments and public keys below catch corrupted shares.
        secrets = shamir.combine_many(groups, check=False)
        seeds: list[bytes] = []
        signs: list[int] = []
        for owner, secret in zip(self._u2, secrets, strict=True):
            assert isinstance(secret, bytes)
            if owner in survivors:
                if keys.commit_seed(secret, self.session_id, owner) != self._commit[owner]:
                    raise ProtocolError(
                        f"the self-mask seed of client {describe_client_id(owner)} does not "
                        "match its commitment (corrupted shares)"
                    )
                seeds.append(secret)
                signs.append(-1)
                continue
            pair = keys.private_from_bytes(secret)
            if pair.public != self._keys[owner][1]:
                raise ProtocolError(
                    f"the key of dropped client {describe_client_id(owner)} does not match its "
                    "advertised public key (corrupted shares)"
                )
            for v in self._nbrs[owner] & survivors:
                a, b = (
                    (v, owner) if client_id_sort_key(v) < client_id_sort_key(owner) else (owner, v)
                )
                seeds.append(keys.mask_seed(pair, self._keys[v][1], self.session_id, a, b))
                # v added +mask towards higher ids: remove what v added
                signs.append(-1 if a == v else 1)
        total = self._total
        assert total is not None
        prg.mask_add(total, seeds, signs)
        codec = self._scheme.encoding
        decoded = codec.decode(total, n_summands=len(self._u3))
        result = self._scheme._weights.finish(decoded)
        return Finish(total=result, survivors=self._u3)


class SecAggClientSession(BaseClientSession):
    """The client side of one SecAgg round (see :class:`SecAgg`)."""

    def __init__(
        self,
        scheme: SecAgg,
        client_id: ClientId,
        vector: npt.NDArray[np.float64],
        weight: float,
        identity: NodeIdentity | None,
    ) -> None:
        super().__init__(
            fingerprint=scheme.fingerprint, exchanges=scheme._exchanges(), client_id=client_id
        )
        self._scheme = scheme
        self._vector = vector
        self._weight = weight
        self._identity = identity
        self._t = 0
        self._u0: list[ClientId] = []
        self._u1: list[ClientId] = []
        self._c: keys.KeyPair | None = None
        self._s: keys.KeyPair | None = None
        self._peer: dict[ClientId, tuple[bytes, bytes]] = {}
        self._nbrs: dict[ClientId, frozenset[ClientId]] = {}
        self._held: dict[ClientId, tuple[shamir.Share, shamir.Share]] = {}
        self._b: bytes = b""
        self._in_key: dict[ClientId, bytes] = {}
        self._my_index: dict[ClientId, int] = {}
        self._seed: dict[ClientId, bytes] = {}

    def __repr__(self) -> str:
        who = describe_client_id(self.client_id)
        return f"SecAggClientSession(client_id={who}, exchange={self.exchange})"

    @property
    def _who(self) -> str:
        return f"client {describe_client_id(self.client_id)}"

    def _refuse(self, reason: str) -> ProtocolError:
        return ProtocolError(f"{self._who}: {reason}", client_id=self.client_id)

    # -- validation (no state changes) ----------------------------------------------

    def _check_request(self, exchange: int, data: Payload) -> object:
        last = len(self._scheme._exchanges()) - 1
        if exchange == 0:
            return self._check_roster(data)
        if exchange == 1:
            return self._check_neighbours(data)
        if exchange == 2:
            return self._check_inbox(data)
        if exchange < last:
            _fields(data, {"survivors"}, self._who)
            return self._check_survivors(data["survivors"])
        return self._check_unmask(data)

    def _check_roster(self, data: Payload) -> tuple[list[ClientId], int]:
        _fields(data, {"clients", "length", "threshold"}, self._who)
        ids = _id_list(data["clients"], "clients", self._who)
        if self.client_id not in ids:
            raise self._refuse("the roster of the round does not include this client")
        if len(ids) > self._scheme._max_clients:
            raise self._refuse(f"{len(ids)} clients exceed max_clients={self._scheme._max_clients}")
        roster = self._scheme.roster
        if roster is not None and not all(c in roster for c in ids):
            raise self._refuse("the round names clients outside the roster")
        if data["length"] != self._vector.size:
            raise self._refuse(
                f"the server asks for {data['length']!r} coordinates, this update has "
                f"{self._vector.size}"
            )
        _, t = self._scheme.group(len(ids))
        if data["threshold"] != t:
            raise self._refuse(
                f"the server announces threshold {data['threshold']!r}, the scheme gives {t}"
            )
        return ids, t

    def _check_neighbours(
        self, data: Payload
    ) -> tuple[
        list[ClientId], dict[ClientId, tuple[bytes, bytes]], dict[ClientId, frozenset[ClientId]]
    ]:
        _fields(data, {"clients", "seed", "ids", "c_pk", "s_pk", "sig"}, self._who)
        u1 = _id_list(data["clients"], "clients", self._who)
        seed = data["seed"]
        ids = _id_list(data["ids"], "ids", self._who)
        c_pks = _bytes_list(data["c_pk"], "c_pk", self._who, size=keys.KEY_BYTES)
        s_pks = _bytes_list(data["s_pk"], "s_pk", self._who, size=keys.KEY_BYTES)
        sigs = _bytes_list(data["sig"], "sig", self._who)
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise DecodeError(f"{self._who}: seed must be 32 bytes")
        if not len(ids) == len(c_pks) == len(s_pks) == len(sigs):
            raise DecodeError(f"{self._who}: ids and keys differ in length")
        if self.client_id not in u1 or not set(u1) <= set(self._u0):
            raise self._refuse("the clients of the round changed between exchanges")
        if len(u1) < self._t:
            raise self._refuse(
                f"only {len(u1)} clients advertised keys; the threshold is {self._t}"
            )
        degree = degree_for(self._scheme._neighbours, len(u1))
        nbr_pos = neighbourhoods(u1, degree=degree, seed=seed)
        graph = {c: frozenset(u1[j] for j in nbr_pos[i]) for i, c in enumerate(u1)}
        if set(ids) != graph[self.client_id]:
            raise self._refuse("the neighbours sent do not match the communication graph")
        if len(ids) + 1 < self._t:
            raise self._refuse(
                f"{len(ids) + 1} share holders are fewer than the threshold {self._t}"
            )
        peers: dict[ClientId, tuple[bytes, bytes]] = {}
        for cid, c_pk, s_pk, sig in zip(ids, c_pks, s_pks, sigs, strict=True):
            keys.check_public_key(c_pk, f"{self._who}: c_pk", cid)
            keys.check_public_key(s_pk, f"{self._who}: s_pk", cid)
            roster = self._scheme.roster
            if roster is not None:
                try:
                    roster.verify(
                        cid,
                        _advertisement(self.session_id or b"", cid, c_pk, s_pk),
                        sig,
                        context=_ADVERTISE_CONTEXT,
                    )
                except VerificationError as exc:
                    raise self._refuse(
                        f"the key advertisement of client {describe_client_id(cid)} is not signed "
                        "by its identity"
                    ) from exc
            peers[cid] = (c_pk, s_pk)
        return u1, peers, graph

    def _check_inbox(self, data: Payload) -> dict[ClientId, tuple[shamir.Share, shamir.Share]]:
        _fields(data, {"from", "ct"}, self._who)
        senders = _id_list(data["from"], "from", self._who)
        cts = _bytes_list(data["ct"], "ct", self._who)
        if len(cts) != len(senders):
            raise DecodeError(f"{self._who}: from and ct differ in length")
        mine = self._nbrs[self.client_id]
        if not set(senders) <= mine:
            raise self._refuse("shares arrived from clients that are not neighbours")
        if len(senders) + 1 < self._t:
            raise self._refuse(
                f"only {len(senders)} neighbours hold this client's shares; with itself that is "
                f"fewer than the threshold {self._t}, so it will not send its input"
            )
        session = self.session_id or b""
        held: dict[ClientId, tuple[shamir.Share, shamir.Share]] = {}
        for sender, ct in zip(senders, cts, strict=True):
            plain = keys.decrypt_shares(self._in_key[sender], session, sender, self.client_id, ct)
            # Authenticated by the AEAD; still checked, as a sender may be faulty.
            index = self._my_index[sender]
            try:
                bundle = wire.decode_value(plain)
                if not isinstance(bundle, dict) or set(bundle) != {"s", "b"}:
                    raise DecodeError("bad bundle")
                pair = tuple(
                    shamir.Share(index, self._t, value, _SEED_BYTES)
                    for value in (bundle["s"], bundle["b"])
                    if isinstance(value, np.ndarray) and value.size == _SHARE_ELEMENTS
                )
                if len(pair) != 2:
                    raise DecodeError("bad bundle")
            except (DecodeError, ParameterError) as exc:
                raise self._refuse(
                    f"malformed shares from client {describe_client_id(sender)}"
                ) from exc
            held[sender] = (pair[0], pair[1])
        return held

    def _check_survivors(self, value: Value) -> list[ClientId]:
        survivors = _id_list(value, "survivors", self._who)
        if self.client_id not in survivors:
            raise self._refuse("the survivors do not include this client")
        if not set(survivors) <= set(self._u1):
            raise self._refuse("the survivors name clients that never advertised keys")
        if len(survivors) < self._t:
            raise self._refuse(f"only {len(survivors)} survivors; the threshold is {self._t}")
        return survivors

    def _check_unmask(self, data: Payload) -> list[ClientId]:
        roster = self._scheme.roster
        names = {"survivors"} if roster is None else {"survivors", "signers", "sigs"}
        _fields(data, names, self._who)
        survivors = self._check_survivors(data["survivors"])
        if roster is not None:
            signers = _id_list(data["signers"], "signers", self._who)
            sigs = _bytes_list(data["sigs"], "sigs", self._who)
            if len(signers) != len(sigs):
                raise DecodeError(f"{self._who}: signers and sigs differ in length")
            statement = _survivor_statement(self.session_id or b"", survivors)
            valid = 0
            for cid, sig in zip(signers, sigs, strict=True):
                if cid not in survivors:
                    continue
                try:
                    roster.verify(cid, statement, sig, context=_CONSISTENCY_CONTEXT)
                    valid += 1
                except (VerificationError, ProtocolError):
                    continue
            if valid < self._t:
                raise self._refuse(
                    f"only {valid} survivors signed the survivor set; {self._t} signatures are "
                    "needed before shares are revealed"
                )
        return survivors

    # -- state changes ----------------------------------------------------------------

    def _respond(self, exchange: int, parsed: Any) -> Payload | None:
        last = len(self._scheme._exchanges()) - 1
        if exchange == 0:
            self._u0, self._t = parsed
            return self._advertise()
        if exchange == 1:
            self._u1, self._peer, self._nbrs = parsed
            return self._share_keys()
        if exchange == 2:
            self._held.update(parsed)
            return self._masked_input(sorted(parsed, key=client_id_sort_key))
        if exchange < last:
            assert self._identity is not None
            sig = self._identity.sign(
                _survivor_statement(self.session_id or b"", parsed), context=_CONSISTENCY_CONTEXT
            )
            return {"sig": sig}
        return self._reveal(set(parsed))

    def _advertise(self) -> Payload:
        self._c, self._s = keys.KeyPair.generate(), keys.KeyPair.generate()
        sig = b""
        if self._identity is not None:
            statement = _advertisement(
                self.session_id or b"", self.client_id, self._c.public, self._s.public
            )
            sig = self._identity.sign(statement, context=_ADVERTISE_CONTEXT)
        return {"c_pk": self._c.public, "s_pk": self._s.public, "sig": sig}

    def _share_keys(self) -> Payload:
        assert self._c is not None
        assert self._s is not None
        me = self.client_id
        holders = _canonical(self._nbrs[me] | {me})
        # My share index among each neighbour's holders (canonical order, from 1).
        rank = {cid: i for i, cid in enumerate(self._u1)}
        mine = rank[me]
        self._my_index = {
            u: 1 + sum(1 for x in self._nbrs[u] | {u} if rank[x] < mine) for u in self._nbrs[me]
        }
        self._b = keys.new_seed()
        s_shares, b_shares = shamir.split_many(
            [self._s.private_bytes(), self._b], threshold=self._t, n=len(holders)
        )
        session = self.session_id or b""
        to: list[Value] = []
        cts: list[Value] = []
        for pos, holder in enumerate(holders):
            if holder == me:
                self._held[holder] = (s_shares[pos], b_shares[pos])
                continue
            c_pk, s_pk = self._peer[holder]
            # One X25519 per neighbour and key kind, now; exchange 2 only uses the results.
            out_key, self._in_key[holder] = keys.channel_keys(self._c, c_pk, session, me, holder)
            a, b = (
                (me, holder)
                if client_id_sort_key(me) < client_id_sort_key(holder)
                else (holder, me)
            )
            self._seed[holder] = keys.mask_seed(self._s, s_pk, session, a, b)
            bundle = wire.encode_value({"s": s_shares[pos].values, "b": b_shares[pos].values})
            to.append(holder)
            cts.append(keys.encrypt_shares(out_key, session, me, holder, bundle))
        return {"to": to, "ct": cts, "b_commit": keys.commit_seed(self._b, session, me)}

    def _masked_input(self, senders: Sequence[ClientId]) -> Payload:
        y = self._scheme._encode(self._vector, self._weight)
        me = client_id_sort_key(self.client_id)
        seeds = [self._b, *(self._seed[peer] for peer in senders)]
        signs = [1, *(1 if me < client_id_sort_key(peer) else -1 for peer in senders)]
        prg.mask_add(y, seeds, signs)
        return {"y": y}

    def _reveal(self, survivors: set[ClientId]) -> Payload:
        # For each client whose shares this one holds: the self-mask share if it
        # survived, the key share if it dropped; never both for one client.
        b_from: list[ClientId] = []
        s_from: list[ClientId] = []
        for owner in _canonical(self._held):
            (b_from if owner in survivors else s_from).append(owner)
        return {
            "b_from": list[Value](b_from),
            "b": [self._held[o][1].to_bytes() for o in b_from],
            "s_from": list[Value](s_from),
            "s": [self._held[o][0].to_bytes() for o in s_from],
        }
