"""An in-process Flower ``Grid`` for tests and benchmarks (private; not a runtime).

:func:`local_grid` builds a ``Grid`` that hands each message straight to a ``ClientApp``
in this process: no SuperLink, no Ray, no network.  It stamps the message and reply
metadata the SuperLink would stamp (message id, source node), which Flower keeps in
private attributes, so it may need updating with a new Flower release; that is why it
is private.  An exception in the app becomes an error reply, as a crashed node's would;
``offline`` nodes never answer.  Flower's ``Message`` constructor reads the process's
task identity, which Flower's runtimes set: call :func:`set_task_identity` first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from privkit._backends import require

__all__ = ["local_grid", "set_task_identity"]

_FEATURE = "the in-process Flower grid (privkit.integrations._flower_local)"


def set_task_identity(run_id: int) -> None:
    """Give this process the task identity Flower's runtimes would (run ``run_id``, SuperLink).

    Args:
        run_id: the run id the grid's contexts use.

    Raises:
        BackendUnavailableError: flwr is not installed (extra ``flower``).
    """
    identity = require("flwr.supercore.task_identity", feature=_FEATURE).TaskIdentity
    identity.run_id = run_id
    identity.node_id = 1
    identity.task_id = 1


def local_grid(
    app: Any, n: int, *, node_base: int, run_id: int, offline: Iterable[int] = ()
) -> Any:
    """An in-process ``Grid`` over ``n`` nodes of ``app``.

    Args:
        app: the ``ClientApp`` every node runs.
        n: number of nodes; node ``i`` has id ``node_base + i`` and
            ``node_config={"partition-id": i}``.
        node_base: the first node id.
        run_id: the run id of the nodes' contexts.
        offline: partition ids of nodes that never answer.

    Returns:
        The grid; its ``sent`` list records the message type of every message sent.

    Raises:
        BackendUnavailableError: flwr is not installed (extra ``flower``).
    """
    app_mod = require("flwr.app", feature=_FEATURE)
    grid_cls = require("flwr.serverapp", feature=_FEATURE).Grid

    class LocalGrid(grid_cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.app = app
            self.contexts = {
                node_base + i: app_mod.Context(
                    run_id=run_id,
                    node_id=node_base + i,
                    node_config={"partition-id": i},
                    state=app_mod.RecordDict(),
                    run_config={},
                )
                for i in range(n)
            }
            self.offline = {node_base + i for i in offline}
            self.sent: list[str] = []

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
                # what the SuperLink would stamp on the message and on the reply
                msg.metadata.__dict__["_message_id"] = str(uuid.uuid4())
                self.sent.append(msg.metadata.message_type)
                nid = msg.metadata.dst_node_id
                if nid in self.offline:
                    continue
                try:
                    reply = self.app(msg, self.contexts[nid])
                except Exception as exc:
                    reply = app_mod.Message(app_mod.Error(code=0, reason=repr(exc)), reply_to=msg)
                reply.metadata.__dict__["_src_node_id"] = nid
                replies.append(reply)
            return replies

    return LocalGrid()
