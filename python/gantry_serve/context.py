"""Per-process and per-request context: the replica context and the request's model id.

The replica runner fills the replica context once it has constructed the user object;
``get_replica_context()`` raises outside a replica, as Ray's does. The multiplexed model id
of the request being served lives in a ContextVar, so concurrent requests each see their own.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from .exceptions import RayServeException

# "client" in user processes, "build" under `python -m gantry_serve.build`, "replica" in a
# replica runner. serve.run only deploys from a client process.
_role = "client"

_model_id: contextvars.ContextVar[str] = contextvars.ContextVar("gantry_serve_model_id", default="")


@dataclass(frozen=True)
class DeploymentID:
    """A deployment's name and the application it belongs to."""

    name: str
    app_name: str


@dataclass(frozen=True)
class ReplicaID:
    """Identifies one replica: its unique id and its deployment."""

    unique_id: str
    deployment_id: DeploymentID

    def to_full_id_str(self) -> str:
        """The replica's id in Ray's format: app#deployment#unique_id."""
        return f"{self.deployment_id.app_name}#{self.deployment_id.name}#{self.unique_id}"


@dataclass
class ReplicaContext:
    """What a replica knows about itself (Ray's ReplicaContext)."""

    replica_id: ReplicaID
    servable_object: Any

    @property
    def app_name(self) -> str:
        return self.replica_id.deployment_id.app_name

    @property
    def deployment(self) -> str:
        return self.replica_id.deployment_id.name

    @property
    def replica_tag(self) -> str:
        return self.replica_id.unique_id


_replica_context: ReplicaContext | None = None


def get_replica_context() -> ReplicaContext:
    """Return the context of the replica this code runs in.

    Raises RayServeException outside a replica (for example in the driver script).
    """
    if _replica_context is None:
        raise RayServeException(
            "get_replica_context() may only be called from within a deployment replica "
            "(a process started by `python -m gantry_serve.replica`)"
        )
    return _replica_context


def set_replica_context(ctx: ReplicaContext | None) -> None:
    """Install the replica context (called by the replica runner)."""
    global _replica_context
    _replica_context = ctx


def get_multiplexed_model_id() -> str:
    """The model id of the request being served: the ``serve_multiplexed_model_id`` HTTP
    header or the handle option ``multiplexed_model_id``; "" when the request has none."""
    return _model_id.get()


def set_multiplexed_model_id(model_id: str) -> contextvars.Token:
    """Set the current request's model id; returns a token for reset."""
    return _model_id.set(model_id)


def reset_multiplexed_model_id(token: contextvars.Token) -> None:
    """Restore the model id saved in token."""
    _model_id.reset(token)


def role() -> str:
    """The process's role: "client", "build" or "replica"."""
    return _role


def set_role(value: str) -> None:
    """Set the process's role (called by the runner and the builder)."""
    global _role
    if value not in ("client", "build", "replica"):
        raise ValueError(f"role must be client, build or replica, got {value!r}")
    _role = value


_traceparent: contextvars.ContextVar[str] = contextvars.ContextVar("gantry_serve_traceparent", default="")


def get_traceparent() -> str:
    """The W3C traceparent of the request being served ("" outside one)."""
    return _traceparent.get()


def set_traceparent(value: str) -> contextvars.Token:
    """Set the current request's traceparent; returns a token for reset."""
    return _traceparent.set(value)


def reset_traceparent(token: contextvars.Token) -> None:
    """Restore the traceparent saved in token."""
    _traceparent.reset(token)
