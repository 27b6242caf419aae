"""serve.deployment, Deployment.options and Deployment.bind: the authoring side of a graph.

A Deployment wraps a user class or function with the options set in code (only those:
options the code does not set stay absent, so the gateway's config and defaults apply as
Ray applies them). ``bind`` returns an Application node; bound Applications passed as
init arguments are the graph's edges.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

# The options Gantry's config knows, with Ray's names.
OPTION_NAMES = (
    "num_replicas",
    "max_ongoing_requests",
    "max_queued_requests",
    "user_config",
    "autoscaling_config",
    "ray_actor_options",
    "health_check_period_s",
    "health_check_timeout_s",
    "graceful_shutdown_timeout_s",
    "graceful_shutdown_wait_loop_s",
)

# Ray options gantry-serve refuses, with what to do instead.
_UNSUPPORTED = {
    "route_prefix": "set route_prefix on the application (serve.run or the config file)",
    "version": "Gantry rolls replicas when the code or config changes",
    "placement_group_bundles": "use ray_actor_options.resources.TPU and worker_groups",
    "placement_group_strategy": "use ray_actor_options.resources.TPU and worker_groups",
    "max_replicas_per_node": "Gantry places replicas itself",
    "logging_config": "replicas log to stdout; the gateway collects it",
    "request_router_config": "the gateway's router chooses replicas",
    "is_driver_deployment": "not applicable without Ray",
}

_UNSET: Any = object()


def _check_option(name: str, value: Any) -> Any:
    """Validate one option; return the value to store (dict form for config objects)."""
    if name == "num_replicas":
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise ValueError(f"num_replicas: must be an int >= 0 or \"auto\", got {value!r}")
    if name in ("max_ongoing_requests",):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        raise ValueError(f"{name}: must be an int >= 1, got {value!r}")
    if name == "max_queued_requests":
        if isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1):
            return value
        raise ValueError(f"max_queued_requests: must be -1 (no limit) or an int >= 1, got {value!r}")
    if name in ("autoscaling_config", "ray_actor_options"):
        if hasattr(value, "model_dump"):
            value = value.model_dump(exclude_unset=True)
        elif hasattr(value, "dict") and not isinstance(value, dict):
            value = value.dict(exclude_unset=True)
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name}: must be a dict, got {type(value).__name__}")
        _check_json(name, value)
        return value
    if name == "user_config":
        _check_json(name, value)
        return value
    if name in (
        "health_check_period_s",
        "health_check_timeout_s",
        "graceful_shutdown_timeout_s",
        "graceful_shutdown_wait_loop_s",
    ):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return value
        raise ValueError(f"{name}: must be a number >= 0, got {value!r}")
    raise AssertionError(name)


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: must be JSON-serializable: {exc}") from None


def _collect(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in _UNSUPPORTED:
            raise TypeError(f"deployment option {key!r} is not supported by gantry-serve: {_UNSUPPORTED[key]}")
        if key not in OPTION_NAMES:
            raise TypeError(
                f"unknown deployment option {key!r}; gantry-serve knows: name, {', '.join(OPTION_NAMES)}"
            )
        if value is _UNSET:
            continue
        out[key] = _check_option(key, value)
    if "autoscaling_config" in out and out.get("num_replicas") not in (None, "auto"):
        raise ValueError("num_replicas and autoscaling_config are exclusive: set num_replicas=\"auto\" or drop one")
    return out


class Deployment:
    """A class or function made servable by @serve.deployment."""

    def __init__(self, func_or_class: Callable, name: str, options: dict[str, Any]):
        self._func_or_class = func_or_class
        self._name = name
        self._options = dict(options)

    @property
    def name(self) -> str:
        return self._name

    @property
    def func_or_class(self) -> Callable:
        return self._func_or_class

    @property
    def options_set(self) -> dict[str, Any]:
        """The options set in code (a copy)."""
        return dict(self._options)

    def __getattr__(self, name: str) -> Any:
        # Ray exposes the options as attributes (deployment.num_replicas...).
        if name in OPTION_NAMES:
            return self._options.get(name)
        raise AttributeError(f"'Deployment' object has no attribute {name!r}")

    def options(self, *, name: str | None = None, **options: Any) -> "Deployment":
        """Return a copy with the given options overriding this deployment's."""
        merged = dict(self._options)
        merged.update(_collect(options))
        if "autoscaling_config" in merged and merged.get("num_replicas") not in (None, "auto"):
            if "num_replicas" in options:
                merged.pop("autoscaling_config")
            else:
                merged.pop("num_replicas")
        return Deployment(self._func_or_class, name or self._name, merged)

    def bind(self, *args: Any, **kwargs: Any) -> "Application":
        """Bind init arguments (Applications among them become handles): an app node."""
        return Application(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"deployment {self._name!r} cannot be called or constructed directly; "
            f"use {self._name}.bind(...) to build an application"
        )

    def __repr__(self) -> str:
        return f"Deployment(name={self._name!r})"


class Application:
    """A bound deployment: the node of an application graph (Ray's Application)."""

    def __init__(self, deployment: Deployment, args: tuple, kwargs: dict):
        self.deployment = deployment
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    def __repr__(self) -> str:
        return f"Application({self.deployment.name!r})"


def deployment(
    _func_or_class: Callable | None = None,
    *,
    name: str | None = None,
    **options: Any,
) -> Any:
    """Make a class or function a deployment (``@serve.deployment`` or
    ``@serve.deployment(num_replicas=2, ...)``); options keep Ray's names and meaning."""
    checked = _collect(options)

    def wrap(target: Callable) -> Deployment:
        if not (inspect.isclass(target) or inspect.isfunction(target) or inspect.iscoroutinefunction(target)):
            raise TypeError(f"@serve.deployment must decorate a class or a function, got {target!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name: must be a non-empty string, got {name!r}")
        return Deployment(target, name or target.__name__, checked)

    if _func_or_class is not None:
        return wrap(_func_or_class)
    return wrap
