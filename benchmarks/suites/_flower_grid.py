"""An in-process Flower round for the ``e2e`` suite: the Flower path without a transport.

:class:`InProcessGrid` is a Flower ``Grid`` that hands each message straight to a
``ClientApp`` in this process (no SuperLink, no Ray, no network), so a timed round
measures what the Flower path adds to privkit's sessions: Flower's ``Message`` /
``ArrayRecord`` conversions, the strategy's bookkeeping and the mod's dispatch.  Flower's
``Message`` constructor reads the process's task identity, which Flower's runtimes set;
:func:`set_task_identity` sets it here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["InProcessGrid", "flower_round", "set_task_identity"]

NODE_BASE = 1_000
RUN_ID = 1


def set_task_identity() -> None:
    """Give this process the task identity Flower's runtimes would (run 1, SuperLink)."""
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity.run_id = RUN_ID
    TaskIdentity.node_id = 1
    TaskIdentity.task_id = 1
    logging.getLogger("flwr").setLevel(logging.WARNING)  # one line per step otherwise


def _grid_class() -> type:
    from flwr.app import Context, Error, Message, RecordDict
    from flwr.serverapp import Grid

    class InProcessGridImpl(Grid):
        """A Grid that calls the ClientApp directly; an exception is an error reply."""

        def __init__(self, app: Any, n: int) -> None:
            self.app = app
            self.contexts = {
                NODE_BASE + i: Context(
                    run_id=RUN_ID,
                    node_id=NODE_BASE + i,
                    node_config={"partition-id": i},
                    state=RecordDict(),
                    run_config={},
                )
                for i in range(n)
            }

        def set_run(self, run: Any) -> None:
            raise NotImplementedError

        @property
        def run(self) -> Any:
            raise NotImplementedError

        def create_message(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        def get_node_ids(self) -> list[int]:
            return list(self.contexts)

        def push_messages(self, messages: Iterable[Any]) -> Iterable[str]:
            raise NotImplementedError

        def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Any]:
            raise NotImplementedError

        def send_and_receive(
            self, messages: Iterable[Any], *, timeout: float | None = None
        ) -> list[Any]:
            replies = []
            for msg in messages:
                # what the SuperLink would stamp on the message and the reply
                msg.metadata.__dict__["_message_id"] = str(uuid.uuid4())
                nid = msg.metadata.dst_node_id
                try:
                    reply = self.app(msg, self.contexts[nid])
                except Exception as exc:
                    reply = Message(Error(code=0, reason=repr(exc)), reply_to=msg)
                reply.metadata.__dict__["_src_node_id"] = nid
                replies.append(reply)
            return replies

    return InProcessGridImpl


InProcessGrid: Callable[..., Any] = lambda app, n: _grid_class()(app, n)  # noqa: E731
"""``InProcessGrid(app, n)``: an in-process Grid over ``n`` nodes of ``app``."""


def flower_round(
    updates: list[npt.NDArray[np.float32]], scheme: Any | None
) -> Callable[[], npt.NDArray[np.float32]]:
    """Build one Flower FedAvg round over ``updates`` (one per node); return the job.

    Args:
        updates: each node's trained model (what its train function returns).
        scheme: a privkit scheme (the round runs through ``SecureAggregation``), or None
            for Flower's own FedAvg.

    Returns:
        A zero-argument callable running one round and returning the new model.
    """
    from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp.strategy import FedAvg

    from privkit.integrations.flower import SecureAggregation, privkit_mod, register_exchange

    n, length = len(updates), updates[0].size
    mods = [] if scheme is None else [privkit_mod(scheme)]
    app = ClientApp(mods=mods)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        w = updates[int(context.node_config["partition-id"])]
        content = RecordDict(
            {"arrays": ArrayRecord({"w": Array(w)}), "metrics": MetricRecord({"num-examples": 1})}
        )
        return Message(content, reply_to=msg)

    if scheme is not None:
        register_exchange(app, mods[0])

    def run() -> npt.NDArray[np.float32]:
        strategy: Any = FedAvg(
            fraction_train=1.0, fraction_evaluate=0.0, min_available_nodes=n, min_train_nodes=n
        )
        if scheme is not None:
            strategy = SecureAggregation(strategy, scheme)
        result = strategy.start(
            grid=InProcessGrid(app, n),
            initial_arrays=ArrayRecord({"w": Array(np.zeros(length, np.float32))}),
            num_rounds=1,
        )
        out: npt.NDArray[np.float32] = result.arrays["w"].numpy()
        return out

    return run
