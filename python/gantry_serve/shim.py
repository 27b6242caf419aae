"""The ``ray.serve`` shim: ``from ray import serve`` resolves to gantry_serve when Ray is
not installed.

``install()`` adds a meta-path finder only when ``import ray`` would fail. It serves these
modules: ``ray`` (``ray.serve``, and ``ray.init``/``ray.is_initialized``/``ray.shutdown`` as
no-ops), ``ray.serve``, ``ray.serve.handle``, ``ray.serve.exceptions``,
``ray.serve.deployment``, ``ray.serve.context`` and ``ray.serve.multiplex``/``batching``
names. Any other ``ray`` module raises ImportError, and any other attribute raises
AttributeError, each naming what is missing and saying gantry-serve does not support it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any, Sequence

_NOT_SUPPORTED = "is not supported by gantry-serve (Ray is not installed; see docs/python.md for what is covered)"


def _serve_names() -> dict[str, Any]:
    import gantry_serve

    return {name: getattr(gantry_serve, name) for name in gantry_serve.__all__}


def _handle_names() -> dict[str, Any]:
    from gantry_serve import handle

    return {
        "DeploymentHandle": handle.DeploymentHandle,
        "DeploymentResponse": handle.DeploymentResponse,
        "DeploymentResponseGenerator": handle.DeploymentResponseGenerator,
    }


def _exception_names() -> dict[str, Any]:
    from gantry_serve import exceptions

    return {n: getattr(exceptions, n) for n in dir(exceptions) if n[0].isupper()}


def _deployment_names() -> dict[str, Any]:
    from gantry_serve import deployment

    return {"Deployment": deployment.Deployment, "Application": deployment.Application}


def _context_names() -> dict[str, Any]:
    from gantry_serve import context

    return {"ReplicaContext": context.ReplicaContext, "get_replica_context": context.get_replica_context}


def _ray_names() -> dict[str, Any]:
    def init(*args: Any, **kwargs: Any) -> None:
        """A no-op: there is no Ray cluster to connect to."""

    def is_initialized() -> bool:
        return True

    def shutdown() -> None:
        """A no-op: there is no Ray cluster to leave."""

    return {"init": init, "is_initialized": is_initialized, "shutdown": shutdown}


_MODULES = {
    "ray": _ray_names,
    "ray.serve": _serve_names,
    "ray.serve.handle": _handle_names,
    "ray.serve.exceptions": _exception_names,
    "ray.serve.deployment": _deployment_names,
    "ray.serve.context": _context_names,
}


class _ShimModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"{self.__name__}.{name} {_NOT_SUPPORTED}")


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _ShimModule(spec.name)
        module.__path__ = []  # a package, so its submodules import
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(_MODULES[module.__name__]())
        module.__dict__["__gantry_shim__"] = True
        if module.__name__ == "ray.serve":
            module.__dict__["__doc__"] = "gantry_serve standing in for ray.serve"


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "ray" and not fullname.startswith("ray."):
            return None
        if fullname not in _MODULES:
            raise ImportError(f"module {fullname} {_NOT_SUPPORTED}", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)


_FINDER = _Finder()


def install() -> bool:
    """Install the finder unless Ray is importable or it is installed already.
    Returns whether the shim is active."""
    if _FINDER in sys.meta_path:
        return True
    if "ray" in sys.modules:
        return bool(getattr(sys.modules["ray"], "__gantry_shim__", False))
    if importlib.util.find_spec("ray") is not None:
        return False
    sys.meta_path.append(_FINDER)
    return True
