"""gantry_serve: Ray Serve's authoring API for applications served by Gantry.

Write ``import gantry_serve as serve`` (or keep ``from ray import serve``: without Ray
installed, Gantry's runner resolves it here) and use Ray's names: ``serve.deployment``,
``.options``, ``.bind``, ``serve.ingress``, ``DeploymentHandle``, ``serve.batch``,
``serve.multiplexed``, ``serve.get_multiplexed_model_id``, ``serve.get_replica_context``,
``serve.run``. The gateway runs each deployment with ``python -m gantry_serve.replica``;
handle calls travel through the gateway's router. See docs/python.md.
"""

from __future__ import annotations

from .api import delete, get_app_handle, get_deployment_handle, run, shutdown, start, status
from .batching import batch
from .context import ReplicaContext, get_multiplexed_model_id, get_replica_context
from .deployment import Application, Deployment, deployment
from .exceptions import BackPressureError, RayServeException
from .handle import DeploymentHandle, DeploymentResponse, DeploymentResponseGenerator
from .ingress import ingress
from .multiplex import multiplexed

__version__ = "0.1.0"

__all__ = [
    "Application",
    "BackPressureError",
    "Deployment",
    "DeploymentHandle",
    "DeploymentResponse",
    "DeploymentResponseGenerator",
    "RayServeException",
    "ReplicaContext",
    "batch",
    "delete",
    "deployment",
    "get_app_handle",
    "get_deployment_handle",
    "get_multiplexed_model_id",
    "get_replica_context",
    "ingress",
    "multiplexed",
    "run",
    "shutdown",
    "start",
    "status",
]
