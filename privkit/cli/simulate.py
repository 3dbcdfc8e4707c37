"""``privkit simulate``: federated training of a small model with any privkit scheme.

N clients hold non-IID shares (Dirichlet over the classes) of scikit-learn's digits.
Every round each client trains the global MLP (64-32-10) locally with SGD and sends its
model *update* (local minus global weights) through the chosen aggregation scheme,
optionally wrapped in client-level differential privacy (:class:`privkit.dp.ClientDP`
with a PRV accountant), optionally with Pedersen commitments verified against the
secure sum (:mod:`privkit.zk.verifiable`).  The server adds the aggregate to the global
model.  Rounds run in this process with :func:`privkit.aggregation.run_local`, which
counts the bytes each session emits, so the per-client traffic is what a real transport
would carry.

The defaults (10 clients, 5 rounds, SecAgg with client-level DP at epsilon 8) run in
seconds on two cores.  Data shuffling, partitions, dropout schedules and the poisoned
clients come from ``numpy.random`` seeded with ``--seed``: they are the simulation's
public randomness, never a secret; every secret (masks, keys, DP noise, blindings) is
drawn by the schemes from the OS CSPRNG, so two runs with one seed differ slightly
when noise is involved.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from privkit.aggregation import LocalResult, Plain, Scheme, run_local
from privkit.cli._data import MLP_LAYERS, dirichlet_split, load_digits_split, make_model
from privkit.cli._report import Progress, format_table, write_outputs
from privkit.clientid import ClientId
from privkit.errors import BackendUnavailableError, ParameterError

__all__ = [
    "ROBUST_SCHEMES",
    "SCHEMES",
    "RoundRecord",
    "SimulationConfig",
    "SimulationResult",
    "add_arguments",
    "config_from_args",
    "run_from_args",
    "run_simulation",
    "validate",
]

#: Every value of ``--scheme``.
SCHEMES = (
    "plain",
    "secagg",
    "secagg+",
    "ckks",
    "bfv",
    "paillier",
    "median",
    "trimmed-mean",
    "krum",
)
#: Plaintext robust schemes (helper module ``privkit.aggregation.robust``).
ROBUST_SCHEMES = ("median", "trimmed-mean", "krum")
_SECAGG = ("secagg", "secagg+")
_HE = ("ckks", "bfv", "paillier")
_ROBUST_CLASSES = {"median": "Median", "trimmed-mean": "TrimmedMean", "krum": "Krum"}


@dataclass(frozen=True)
class SimulationConfig:
    """The settings of one simulation (one field per command-line flag).

    Attributes:
        scheme: one of :data:`SCHEMES`.
        clients: number of clients, >= 2.
        rounds: number of federated rounds, >= 1.
        local_epochs: local SGD epochs per round, >= 1.
        lr: local learning rate, > 0.
        batch_size: local mini-batch size, >= 1.
        alpha: Dirichlet concentration of the non-IID split, > 0.
        dp_epsilon: client-level DP budget over all rounds (None: no DP).
        dp_delta: the DP delta, in (0, 1).
        dp_mode: ``"auto"``, ``"central"`` or ``"distributed"``.
        clip: the L2 clip of each client's update under DP, > 0.
        commit: commit to updates and verify every aggregate.
        ledger: path of a privkit.ledger audit log recording every round (None: none).
        dropout_rate: share of clients that drop out of each round, in [0, 1).
        poison_fraction: share of clients that send poisoned updates, in [0, 1).
        poison_scale: the poisoned update is ``-poison_scale`` times the honest one.
        threshold: SecAgg threshold (fraction of clients), in (0, 1].
        engine: ``"local"`` or ``"flower"``.
        seed: seed of the public randomness of the simulation.
        out: directory of the report (None: no files).

    Security assumption: ``seed`` drives only public simulation choices, never a secret.
    """

    scheme: str = "secagg"
    clients: int = 50
    rounds: int = 10
    local_epochs: int = 5
    lr: float = 0.1
    batch_size: int = 16
    alpha: float = 0.5
    dp_epsilon: float | None = 8.0
    dp_delta: float = 1e-5
    dp_mode: str = "auto"
    clip: float = 1.0
    commit: bool = False
    dropout_rate: float = 0.0
    poison_fraction: float = 0.0
    poison_scale: float = 10.0
    threshold: float = 0.6
    engine: str = "local"
    seed: int = 0
    out: str | None = "privkit-simulate"
    ledger: str | None = None

    @property
    def resolved_dp_mode(self) -> str | None:
        """The DP mode in use: None without DP; ``auto`` resolved by the scheme."""
        if self.dp_epsilon is None:
            return None
        if self.dp_mode != "auto":
            return self.dp_mode
        return "distributed" if self.scheme in _SECAGG else "central"

    @property
    def dropouts_per_round(self) -> int:
        """Clients that drop out of every round."""
        return math.floor(self.dropout_rate * self.clients + 1e-9)

    @property
    def poisoned_clients(self) -> int:
        """Clients whose updates are poisoned."""
        return math.floor(self.poison_fraction * self.clients + 1e-9)


@dataclass
class RoundRecord:
    """What one round did and cost.

    Attributes:
        round: 1-based round number.
        accuracy: test accuracy of the global model after the round.
        loss: test cross-entropy after the round.
        epsilon: DP epsilon spent so far (None without DP).
        survivors: clients whose updates are in the aggregate.
        dropped: clients scheduled to drop out.
        bytes_up_per_client: bytes each participating client sent (mean; None on the
            Flower engine, whose transport privkit does not see).
        bytes_down_per_client: bytes the server sent to each client (mean; None there).
        seconds: wall seconds per stage (train, server, clients, commit, evaluate).
        verified: the aggregate was verified against the commitments (None: no commit).
        exchanges: per protocol exchange: messages, bytes and server / client seconds
            (from :class:`~privkit.aggregation.ExchangeStats`).

    Security assumption: public, aggregate numbers only.
    """

    round: int
    accuracy: float
    loss: float
    epsilon: float | None
    survivors: int
    dropped: list[int]
    bytes_up_per_client: float | None
    bytes_down_per_client: float | None
    seconds: dict[str, float] = field(default_factory=dict)
    verified: bool | None = None
    exchanges: list[dict[str, float]] = field(default_factory=list)


@dataclass
class SimulationResult:
    """The outcome of :func:`run_simulation`.

    Attributes:
        config: the settings.
        parameters: number of model parameters.
        noise_multiplier: the calibrated DP noise multiplier (None without DP).
        initial_accuracy: test accuracy of the untrained model.
        rounds: one :class:`RoundRecord` per round.
        wall_seconds: total wall time of the simulation.

    Security assumption: public, aggregate numbers only.
    """

    config: SimulationConfig
    parameters: int
    noise_multiplier: float | None
    initial_accuracy: float
    rounds: list[RoundRecord]
    wall_seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        """Test accuracy after the last round."""
        return self.rounds[-1].accuracy if self.rounds else self.initial_accuracy

    def to_json(self) -> dict[str, Any]:
        """The JSON report (plain dicts, lists, numbers and strings)."""
        return {
            "privkit_simulate_report": 1,
            "config": asdict(self.config),
            "dp_mode": self.config.resolved_dp_mode,
            "model": {"layers": list(MLP_LAYERS), "parameters": self.parameters},
            "noise_multiplier": self.noise_multiplier,
            "initial_accuracy": self.initial_accuracy,
            "final_accuracy": self.final_accuracy,
            "wall_seconds": self.wall_seconds,
            "rounds": [asdict(r) for r in self.rounds],
        }


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0.0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` flags to ``parser``.

    Args:
        parser: the sub-command's parser.

    Security assumption: none.
    """
    d = SimulationConfig()
    parser.add_argument("--scheme", choices=SCHEMES, default=d.scheme, help="aggregation scheme")
    parser.add_argument("--clients", type=_positive_int, default=d.clients, help="clients (>= 2)")
    parser.add_argument("--rounds", type=_positive_int, default=d.rounds, help="federated rounds")
    parser.add_argument(
        "--local-epochs", type=_positive_int, default=d.local_epochs, help="local SGD epochs"
    )
    parser.add_argument("--lr", type=_positive_float, default=d.lr, help="local learning rate")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=d.batch_size, help="local batch size"
    )
    parser.add_argument(
        "--alpha", type=_positive_float, default=d.alpha, help="Dirichlet non-IID concentration"
    )
    dp = parser.add_mutually_exclusive_group()
    dp.add_argument(
        "--dp-epsilon",
        type=_positive_float,
        default=d.dp_epsilon,
        help="client-level DP budget over all rounds (default %(default)s)",
    )
    dp.add_argument("--no-dp", action="store_true", help="turn client-level DP off")
    parser.add_argument(
        "--dp-delta", type=_positive_float, default=d.dp_delta, help="DP delta (default 1e-5)"
    )
    parser.add_argument(
        "--dp-mode",
        choices=("auto", "central", "distributed"),
        default=d.dp_mode,
        help="who adds the DP noise (auto: distributed for secagg/secagg+, else central)",
    )
    parser.add_argument(
        "--clip", type=_positive_float, default=d.clip, help="L2 clip of each update under DP"
    )
    parser.add_argument(
        "--commit", action="store_true", help="Pedersen-commit updates; verify every aggregate"
    )
    parser.add_argument(
        "--dropout-rate", type=_fraction, default=d.dropout_rate, help="dropouts per round"
    )
    parser.add_argument(
        "--poison-fraction", type=_fraction, default=d.poison_fraction, help="poisoned clients"
    )
    parser.add_argument(
        "--poison-scale",
        type=_positive_float,
        default=d.poison_scale,
        help="a poisoned update is -scale times the honest one",
    )
    parser.add_argument(
        "--threshold", type=_positive_float, default=d.threshold, help="SecAgg threshold fraction"
    )
    parser.add_argument(
        "--ledger",
        default=d.ledger,
        metavar="PATH",
        help="record every round in a signed audit log (privkit.ledger; key in PATH.key)",
    )
    parser.add_argument("--engine", choices=("local", "flower"), default=d.engine)
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the simulation")
    parser.add_argument("--out", default=d.out, help="report directory (report.json, report.png)")
    parser.add_argument("--no-out", action="store_true", help="write no report files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(ns: argparse.Namespace) -> SimulationConfig:
    """Build and validate a :class:`SimulationConfig` from parsed arguments.

    Args:
        ns: the namespace of a parser set up by :func:`add_arguments`.

    Returns:
        The validated configuration.

    Raises:
        ParameterError: an impossible combination of flags (the message names it).

    Security assumption: none.
    """
    cfg = SimulationConfig(
        scheme=ns.scheme,
        clients=ns.clients,
        rounds=ns.rounds,
        local_epochs=ns.local_epochs,
        lr=ns.lr,
        batch_size=ns.batch_size,
        alpha=ns.alpha,
        dp_epsilon=None if ns.no_dp else ns.dp_epsilon,
        dp_delta=ns.dp_delta,
        dp_mode=ns.dp_mode,
        clip=ns.clip,
        commit=ns.commit,
        dropout_rate=ns.dropout_rate,
        poison_fraction=ns.poison_fraction,
        poison_scale=ns.poison_scale,
        threshold=ns.threshold,
        engine=ns.engine,
        ledger=ns.ledger,
        seed=ns.seed,
        out=None if ns.no_out else ns.out,
    )
    validate(cfg)
    return cfg


def validate(cfg: SimulationConfig) -> None:
    """Refuse impossible combinations before any work is done.

    Args:
        cfg: the settings.

    Raises:
        ParameterError: the combination and what would work instead.

    Security assumption: none; a refused combination would have run with weaker
    guarantees than asked (e.g. commitments to updates that DP changes).
    """
    if cfg.scheme not in SCHEMES:
        raise ParameterError(f"--scheme must be one of {', '.join(SCHEMES)}, got {cfg.scheme!r}")
    if cfg.clients < 2:
        raise ParameterError(f"--clients must be >= 2 for federated training, got {cfg.clients}")
    if not 0.0 < cfg.dp_delta < 1.0:
        raise ParameterError(f"--dp-delta must be in (0, 1), got {cfg.dp_delta}")
    if not 0.0 < cfg.threshold <= 1.0:
        raise ParameterError(f"--threshold must be in (0, 1], got {cfg.threshold}")
    mode = cfg.resolved_dp_mode
    if mode == "distributed" and cfg.scheme not in _SECAGG:
        raise ParameterError(
            f"--dp-mode distributed needs an exact secure sum (--scheme secagg or secagg+); "
            f"--scheme {cfg.scheme} works with --dp-mode central"
        )
    if cfg.commit:
        if cfg.scheme not in _SECAGG:
            raise ParameterError(
                f"--commit verifies a secure sum: use --scheme secagg or secagg+, not {cfg.scheme}"
            )
        if mode is not None:
            raise ParameterError(
                "--commit verifies the exact sum of what clients committed to; client-level DP "
                "changes the updates inside the protocol: add --no-dp"
            )
    if cfg.poison_fraction > 0 and cfg.poisoned_clients == 0:
        raise ParameterError(
            f"--poison-fraction {cfg.poison_fraction} poisons no client of {cfg.clients}: "
            f"use at least {1 / cfg.clients:.3g}"
        )
    if cfg.engine == "flower":
        from privkit.cli._flower import FLOWER_SCHEMES

        if cfg.scheme not in FLOWER_SCHEMES:
            raise ParameterError(
                f"--engine flower runs --scheme {', '.join(FLOWER_SCHEMES)}, not {cfg.scheme}: "
                "use --engine local"
            )
        if mode is not None or cfg.commit or cfg.dropout_rate > 0:
            raise ParameterError(
                "--engine flower runs without --dp-epsilon, --commit and --dropout-rate "
                "(add --no-dp; use --engine local for those)"
            )
    if cfg.clients - cfg.dropouts_per_round < 1:
        raise ParameterError("--dropout-rate leaves no client in a round")
    if cfg.ledger is not None and cfg.engine != "local":
        raise ParameterError("--ledger records the rounds of --engine local")


def _robust_module() -> Any:
    try:
        return importlib.import_module("privkit.aggregation.robust")
    except ImportError:
        raise BackendUnavailableError(
            "robust schemes (median, trimmed-mean, krum) need privkit.aggregation.robust, "
            "which this privkit does not have"
        ) from None


def _make_robust(cfg: SimulationConfig) -> Scheme:
    """RobustAggregation with the rule of ``cfg.scheme``, sized for the poisoned clients."""
    module = _robust_module()
    names = ("RobustAggregation", _ROBUST_CLASSES[cfg.scheme])
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise BackendUnavailableError(
            f"privkit.aggregation.robust has no {', '.join(missing)}: update privkit"
        )
    if cfg.scheme == "median":
        rule = module.Median()
    elif cfg.scheme == "trimmed-mean":
        rule = module.TrimmedMean(fraction=min(0.45, max(0.1, cfg.poison_fraction)))
    else:
        rule = module.Krum(f=max(1, cfg.poisoned_clients))
    scheme: Scheme = module.RobustAggregation(rule)
    return scheme


def _neighbours(cfg: SimulationConfig) -> int | None:
    """SecAgg+'s neighbour count (about 2 log2 n), None for SecAgg's complete graph."""
    if cfg.scheme != "secagg+":
        return None
    return min(cfg.clients - 1, max(2, math.ceil(2 * math.log2(cfg.clients))))


def _make_inner(cfg: SimulationConfig, encoding_clip: float) -> Scheme:
    """The aggregation scheme of ``cfg.scheme`` (sums unless the scheme says otherwise)."""
    max_clients = max(16, cfg.clients)
    if cfg.scheme == "plain":
        return Plain()
    if cfg.scheme in _SECAGG:
        from privkit.secagg import SecAgg

        return SecAgg(
            threshold=cfg.threshold,
            neighbours=_neighbours(cfg),
            clip=encoding_clip,
            max_clients=max_clients,
        )
    if cfg.scheme in _HE:
        from privkit import he

        if cfg.scheme == "ckks":
            return he.CKKS.generate(max_clients=max_clients)
        if cfg.scheme == "bfv":
            return he.BFV.generate(max_clients=max_clients, clip=encoding_clip)
        return he.Paillier.generate(max_clients=max_clients, clip=encoding_clip)
    return _make_robust(cfg)


@dataclass
class _Setup:
    scheme: Scheme
    noise_multiplier: float | None
    accountant: Any
    own_accounting: bool = False


def _build_scheme(cfg: SimulationConfig, length: int) -> _Setup:
    mode = cfg.resolved_dp_mode
    if mode is None:
        return _Setup(_make_inner(cfg, encoding_clip=4.0), None, None)
    from privkit.dp import ClientDP, calibrate_noise, make_accountant

    # PRV is tight but accounts Gaussian releases only; the distributed discrete
    # Gaussian is accounted with RDP (and calibrated with it, so the budget holds).
    method = "prv" if mode == "central" else "rdp"
    z = calibrate_noise(
        target_epsilon=cfg.dp_epsilon or 0.0,
        target_delta=cfg.dp_delta,
        sample_rate=1.0,
        steps=cfg.rounds,
        accountant=method,
    )
    accountant = make_accountant(method, target_delta=cfg.dp_delta)
    if mode == "central":
        inner = _make_inner(cfg, encoding_clip=max(4.0, cfg.clip))
        rescale = getattr(inner, "dp_noise_multiplier", None)
        if cfg.scheme in ROBUST_SCHEMES and callable(rescale):
            # A robust rule's sensitivity exceeds a sum's: ClientDP gets the rescaled
            # multiplier and the simulation accounts the intended one itself.
            scaled = float(rescale(z, clip=cfg.clip, n_clients=cfg.clients))
            scheme: Scheme = ClientDP(inner, clip=cfg.clip, noise_multiplier=scaled)
            return _Setup(scheme, z, accountant, own_accounting=True)
        scheme = ClientDP(inner, clip=cfg.clip, noise_multiplier=z, accountant=accountant)
        return _Setup(scheme, z, accountant)
    shares = cfg.clients - cfg.dropouts_per_round
    for encoding_clip in (4.0, 8.0, 16.0, 32.0, 64.0, 128.0):
        inner = _make_inner(cfg, encoding_clip=max(encoding_clip, cfg.clip))
        candidate = ClientDP(
            inner,
            clip=cfg.clip,
            noise_multiplier=z,
            mode="distributed",
            noise_shares=shares,
            accountant=accountant,
        )
        plan = candidate.plan(clip=cfg.clip, length=length, n_clients=cfg.clients)
        if plan.clamp_probability(cfg.clients) <= 1e-10:
            return _Setup(candidate, z, accountant)
    raise ParameterError(
        "no SecAgg encoding leaves room for the distributed DP noise of these settings: "
        "use a smaller --clip, a larger --dp-epsilon or --dp-mode central"
    )


class _NodeTrainer:
    """The training a Flower node runs: picklable, builds its torch model on first use."""

    def __init__(
        self,
        cfg: SimulationConfig,
        shards: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]],
        poisoned: set[int],
    ) -> None:
        self.cfg = cfg
        self.shards = shards
        self.poisoned = poisoned
        self.trainer: _Trainer | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["trainer"] = None  # torch modules stay out of the pickle
        return state

    def __call__(self, model: npt.NDArray[np.float64], partition: int) -> npt.NDArray[np.float64]:
        if self.trainer is None:
            self.trainer = _Trainer(self.cfg.seed + 1000 + partition)
        x, y = self.shards[partition]
        delta = self.trainer.train(model, x, y, self.cfg)
        if partition in self.poisoned:
            delta = -self.cfg.poison_scale * delta
        out: npt.NDArray[np.float64] = model + delta
        return out


class _Trainer:
    """Local SGD on the MLP; parameters travel as flat float64 vectors."""

    def __init__(self, seed: int) -> None:
        import torch

        self.torch = torch
        self.model = make_model(seed)
        torch.set_num_threads(1)
        self.generator = torch.Generator().manual_seed(seed)

    def get(self) -> npt.NDArray[np.float64]:
        vec = self.torch.nn.utils.parameters_to_vector(self.model.parameters())
        return np.asarray(vec.detach().numpy(), dtype=np.float64).copy()

    def set(self, vector: npt.NDArray[np.float64]) -> None:
        tensor = self.torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32))
        self.torch.nn.utils.vector_to_parameters(tensor, self.model.parameters())

    def train(
        self,
        start: npt.NDArray[np.float64],
        x: npt.NDArray[np.float32],
        y: npt.NDArray[np.int64],
        cfg: SimulationConfig,
    ) -> npt.NDArray[np.float64]:
        torch = self.torch
        self.set(start)
        opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(cfg.local_epochs):
            order = torch.randperm(len(yt), generator=self.generator)
            for i in range(0, len(yt), cfg.batch_size):
                batch = order[i : i + cfg.batch_size]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(self.model(xt[batch]), yt[batch])
                loss.backward()
                opt.step()
        return self.get() - start

    def evaluate(
        self, vector: npt.NDArray[np.float64], x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]
    ) -> tuple[float, float]:
        torch = self.torch
        self.set(vector)
        with torch.no_grad():
            logits = self.model(torch.from_numpy(x))
            loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)))
            acc = float((logits.argmax(dim=1) == torch.from_numpy(y)).float().mean())
        return acc, loss


def _commit_round(
    scheme: Scheme,
    updates: Mapping[ClientId, npt.NDArray[np.float64]],
    result: LocalResult,
    dropouts: Mapping[int, Sequence[ClientId]],
    round_id: bytes,
    cfg: SimulationConfig,
) -> tuple[bool, int, int, dict[ClientId, bytes]]:
    """Commit, sum the blindings securely, verify the aggregate.

    Returns:
        (verified, bytes up, bytes down, each client's Pedersen commitment).
    """
    from privkit.errors import VerificationError
    from privkit.secagg import SecAgg
    from privkit.zk import verifiable as v

    if not isinstance(scheme, SecAgg):
        raise ParameterError("--commit needs a SecAgg scheme")
    encoding = scheme.encoding
    records = []
    limbs: dict[ClientId, npt.NDArray[np.float64]] = {}
    for cid, update in updates.items():
        record, opening = v.commit_client_update(
            update, round_id=round_id, client_id=cid, encoding=encoding
        )
        records.append(record)
        limbs[cid] = v.blinding_limbs(opening.blinding)
    blinding = v.blinding_scheme(
        max(16, cfg.clients), threshold=cfg.threshold, neighbours=_neighbours(cfg)
    )
    limb_result = run_local(blinding, limbs, dropouts=dropouts)
    claim = v.make_claim(
        round_id,
        aggregate=result.aggregate,
        survivors=result.survivors,
        blinding_limb_sum=limb_result.aggregate,
        blinding_survivors=limb_result.survivors,
    )
    record_bytes = sum(len(r.to_bytes()) for r in records)
    commitments = {r.client_id: r.commitment.to_bytes() for r in records}
    try:
        v.verify_aggregate(claim, records, encoding=encoding)
    except VerificationError:
        return False, limb_result.bytes_up + record_bytes, limb_result.bytes_down, commitments
    return True, limb_result.bytes_up + record_bytes, limb_result.bytes_down, commitments


def _open_ledger(path: str) -> Any:
    """The audit log at ``path``, signed by the aggregator key in ``path + ".key"``.

    The key file is created (mode 0600) with a fresh Ed25519 identity on first use and
    loaded afterwards, so every run appends under the same signer.
    """
    from privkit.identity import NodeIdentity, load_identity, save_identity
    from privkit.ledger import AuditLog

    key = Path(path + ".key")
    if key.exists():
        identity = load_identity(key)
    else:
        identity = NodeIdentity.generate()
        save_identity(identity, key)
    return AuditLog(path, identity=identity)


def _record_round(
    ledger: Any,
    cfg: SimulationConfig,
    r: int,
    scheme: Scheme,
    res: LocalResult,
    updates: Mapping[ClientId, npt.NDArray[np.float64]],
    dropped: Sequence[int],
    commitments: Mapping[ClientId, bytes] | None,
    eps: float | None,
) -> None:
    """Append round ``r`` to the audit log.

    Each client's commitment is its Pedersen commitment with ``--commit``, else a salted
    hash commitment to its update (privkit.zk.hashcommit; the simulation plays the
    clients, which would keep the openings).  The aggregate digest is SHA-256 of the
    aggregate's float64 bytes.
    """
    from privkit.zk import hashcommit

    if commitments is None:
        commitments = {
            cid: hashcommit.commit(np.ascontiguousarray(u, dtype=np.float64).tobytes())[0]
            for cid, u in updates.items()
            if cid in set(res.survivors)
        }
    ledger.append_round(
        round_id=f"privkit-simulate/{cfg.seed}/{r}",
        scheme=type(scheme).name,
        params_fingerprint=scheme.fingerprint,
        participants=list(res.survivors),
        dropped=list(dropped),
        commitments={c: commitments[c] for c in res.survivors if c in commitments},
        aggregate_digest=hashlib.sha256(
            np.ascontiguousarray(res.aggregate, dtype=np.float64).tobytes()
        ).digest(),
        epsilon_spent=eps,
    )


def run_simulation(
    cfg: SimulationConfig, *, progress: IO[str] | None = None, table: IO[str] | None = None
) -> SimulationResult:
    """Run the federated training simulation described by ``cfg``.

    Args:
        cfg: the settings (validated again here).
        progress: where the live progress bar goes (None: nowhere).
        table: where the per-round table goes (None: nowhere).

    Returns:
        A :class:`SimulationResult`; with ``cfg.out`` set, ``report.json`` and (when
        matplotlib is installed) ``report.png`` are written there.

    Raises:
        ParameterError: an impossible combination of settings.
        BackendUnavailableError: torch, scikit-learn, tenseal, a robust scheme or the
            Flower integration is missing for what was asked.
        ProtocolError: a round failed (for example more dropouts than it tolerates).
        PrivacyBudgetExceededError: the DP budget ran out.
        VerificationError: never; a failed verification is recorded in the report.

    Security assumption: every party runs in this process; the simulation measures the
    schemes, it does not provide their protection against a real adversary.
    """
    validate(cfg)
    t_start = time.perf_counter()
    data = load_digits_split(cfg.seed)
    parts = dirichlet_split(data.y_train, cfg.clients, cfg.alpha, cfg.seed)
    trainer = _Trainer(cfg.seed)
    weights = trainer.get()
    setup = _build_scheme(cfg, weights.size)
    scheme = setup.scheme
    n_drop = cfg.dropouts_per_round
    needed = scheme.min_survivors(cfg.clients)
    if cfg.clients - n_drop < needed:
        raise ParameterError(
            f"--dropout-rate {cfg.dropout_rate} drops {n_drop} of {cfg.clients} clients per "
            f"round, but --scheme {cfg.scheme} needs {needed} survivors: lower --dropout-rate"
        )
    public = np.random.default_rng(cfg.seed + 1)  # simulation schedule only, never a secret
    poisoned = set(
        int(c) for c in public.choice(cfg.clients, size=cfg.poisoned_clients, replace=False)
    )
    drop_exchange = 1 if cfg.scheme in _SECAGG else 0
    initial_acc, _ = trainer.evaluate(weights, data.x_test, data.y_test)
    result = SimulationResult(cfg, int(weights.size), setup.noise_multiplier, initial_acc, [])
    bar = Progress(progress, cfg.rounds)
    if table is not None:
        table.write(
            f"privkit simulate: {cfg.scheme}, {cfg.clients} clients, {cfg.rounds} rounds, "
            f"MLP {'-'.join(map(str, MLP_LAYERS))} ({weights.size} parameters), "
            + (
                f"client-level DP eps={cfg.dp_epsilon} delta={cfg.dp_delta:g} "
                f"({cfg.resolved_dp_mode}, noise multiplier {setup.noise_multiplier:.3f})"
                if setup.noise_multiplier is not None
                else "no DP"
            )
            + f"; untrained accuracy {initial_acc:.3f}\n"
        )
        table.flush()
    if cfg.engine == "flower":
        _run_flower_engine(cfg, scheme, data, parts, trainer, weights, poisoned, result, table)
        result.wall_seconds = time.perf_counter() - t_start
        _finish(cfg, result, table)
        return result
    ledger = _open_ledger(cfg.ledger) if cfg.ledger is not None else None
    for r in range(1, cfg.rounds + 1):
        seconds: dict[str, float] = {}
        bar.update(r - 1, "train")
        t0 = time.perf_counter()
        updates: dict[ClientId, npt.NDArray[np.float64]] = {}
        for c, idx in enumerate(parts):
            delta = trainer.train(weights, data.x_train[idx], data.y_train[idx], cfg)
            updates[c] = -cfg.poison_scale * delta if c in poisoned else delta
        seconds["train"] = time.perf_counter() - t0
        dropped = sorted(int(c) for c in public.choice(cfg.clients, size=n_drop, replace=False))
        dropouts = {drop_exchange: dropped} if dropped else None
        bar.update(r - 1, "aggregate")
        t0 = time.perf_counter()
        res = run_local(scheme, updates, dropouts=dropouts)
        seconds["aggregate"] = time.perf_counter() - t0
        seconds["server"] = res.server_seconds
        seconds["clients"] = res.client_seconds
        up, down = res.bytes_up, res.bytes_down
        verified: bool | None = None
        commitments: dict[ClientId, bytes] | None = None
        if cfg.commit:
            bar.update(r - 1, "commit")
            t0 = time.perf_counter()
            round_id = f"privkit-simulate/{cfg.seed}/{r}".encode()
            verified, c_up, c_down, commitments = _commit_round(
                scheme, updates, res, dropouts or {}, round_id, cfg
            )
            up, down = up + c_up, down + c_down
            seconds["commit"] = time.perf_counter() - t0
        survivors = len(res.survivors)
        if scheme.mean:
            step = np.asarray(res.aggregate)
        elif setup.noise_multiplier is not None:
            step = np.asarray(res.aggregate) / cfg.clients  # a public constant (DP-FedAvg)
        else:
            step = np.asarray(res.aggregate) / survivors
        weights = weights + step
        bar.update(r - 1, "evaluate")
        t0 = time.perf_counter()
        acc, loss = trainer.evaluate(weights, data.x_test, data.y_test)
        seconds["evaluate"] = time.perf_counter() - t0
        eps = None
        if setup.own_accounting and setup.noise_multiplier is not None:
            from privkit.dp import SampledGaussian

            setup.accountant.compose(
                SampledGaussian(noise_multiplier=setup.noise_multiplier, sample_rate=1.0)
            )
        if setup.accountant is not None:
            eps = float(setup.accountant.get_epsilon(cfg.dp_delta))
        if ledger is not None:
            t0 = time.perf_counter()
            _record_round(ledger, cfg, r, scheme, res, updates, dropped, commitments, eps)
            seconds["ledger"] = time.perf_counter() - t0
        record = RoundRecord(
            round=r,
            accuracy=acc,
            loss=loss,
            epsilon=eps,
            survivors=survivors,
            dropped=dropped,
            bytes_up_per_client=up / cfg.clients,
            bytes_down_per_client=down / cfg.clients,
            seconds=seconds,
            verified=verified,
            exchanges=[asdict(e) for e in res.exchanges],
        )
        result.rounds.append(record)
        bar.update(r, "done")
        if table is not None:
            table.write(format_table(result.rounds, header=r == 1, last_only=True))
            table.flush()
    bar.close()
    result.wall_seconds = time.perf_counter() - t_start
    _finish(cfg, result, table)
    return result


def _finish(cfg: SimulationConfig, result: SimulationResult, table: IO[str] | None) -> None:
    if cfg.out is not None:
        notes = write_outputs(result.to_json(), cfg.out)
        if table is not None:
            for note in notes:
                table.write(note + "\n")


def _run_flower_engine(
    cfg: SimulationConfig,
    scheme: Scheme,
    data: Any,
    parts: list[npt.NDArray[np.int64]],
    trainer: _Trainer,
    weights: npt.NDArray[np.float64],
    poisoned: set[int],
    result: SimulationResult,
    table: IO[str] | None,
) -> None:
    """The rounds through Flower's simulation engine (see :mod:`privkit.cli._flower`)."""
    from privkit.cli._flower import run_flower

    shards = [(data.x_train[idx], data.y_train[idx]) for idx in parts]
    node = _NodeTrainer(cfg, shards, poisoned)

    def on_round(r: int, model: npt.NDArray[np.float64], info: Any, seconds: float) -> None:
        t0 = time.perf_counter()
        acc, loss = trainer.evaluate(model, data.x_test, data.y_test)
        survivors = len(info.survivors) if info is not None else 0
        record = RoundRecord(
            round=r,
            accuracy=acc,
            loss=loss,
            epsilon=None,
            survivors=survivors,
            dropped=[] if info is None else [int(d) for d in info.dropped],
            bytes_up_per_client=None,
            bytes_down_per_client=None,
            seconds={"round": seconds, "evaluate": time.perf_counter() - t0},
        )
        result.rounds.append(record)
        if table is not None:
            table.write(format_table(result.rounds, header=r == 1, last_only=True))
            table.flush()

    run_flower(
        scheme=scheme,
        n_clients=cfg.clients,
        rounds=cfg.rounds,
        initial=weights,
        train=node,
        evaluate=lambda m: trainer.evaluate(m, data.x_test, data.y_test),
        on_round=on_round,
    )


def run_from_args(ns: argparse.Namespace) -> int:
    """Run ``privkit simulate`` for parsed arguments; returns the exit status.

    Args:
        ns: the namespace of a parser set up by :func:`add_arguments`.

    Returns:
        0, or 1 when an aggregate failed verification.

    Raises:
        PrivkitError: as :func:`run_simulation` (the caller turns it into one line).

    Security assumption: as :func:`run_simulation`.
    """
    cfg = config_from_args(ns)
    progress = None if ns.quiet else sys.stderr
    result = run_simulation(cfg, progress=progress, table=sys.stdout)
    sys.stdout.write(
        f"accuracy {result.initial_accuracy:.3f} -> {result.final_accuracy:.3f} in "
        f"{result.wall_seconds:.1f} s"
        + (f"; report in {cfg.out}/report.json" if cfg.out else "")
        + "\n"
    )
    if cfg.commit and not all(rec.verified for rec in result.rounds):
        sys.stderr.write("privkit simulate: an aggregate failed verification\n")
        return 1
    return 0
