"""Importing an application by its import path (``module:attr`` or ``module.attr``)."""

from __future__ import annotations

import importlib
import traceback

from .deployment import Application, Deployment
from . import shim


class LoadError(Exception):
    """The import path could not be turned into a bound application; the message names the
    module, the attribute and the Python exception."""


def split_import_path(import_path: str) -> tuple[str, str]:
    """Split Ray's ``module:attr`` or ``module.attr`` form."""
    if ":" in import_path:
        module, _, attr = import_path.partition(":")
    else:
        module, _, attr = import_path.rpartition(".")
    if not module or not attr:
        raise LoadError(
            f"import_path {import_path!r}: must be 'module:attribute' or 'module.attribute' "
            "(for example 'app:app' or 'pkg.module:graph')"
        )
    return module, attr


def load_application(import_path: str) -> Application:
    """Import the module (with the ray.serve shim installed when Ray is absent) and return
    the bound Application its attribute names."""
    module_name, attr = split_import_path(import_path)
    shim.install()
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # SystemExit from a script counts as a failure too
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise LoadError(
            f"import_path {import_path!r}: importing module {module_name!r} failed: {detail}\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        ) from None
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise LoadError(f"import_path {import_path!r}: module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if isinstance(target, Deployment):
        raise LoadError(
            f"import_path {import_path!r}: {attr!r} is a deployment, not an application: "
            f"bind it ({attr} = {target.name}.bind(...)) and point import_path at the result"
        )
    if type(target).__module__.split(".")[0] == "ray":
        raise LoadError(
            f"import_path {import_path!r}: {attr!r} is Ray's own {type(target).__name__}: Ray is installed in "
            "this Python, so `from ray import serve` is Ray's; run the application with a Python that has "
            "gantry-serve and not Ray, or import gantry_serve as serve"
        )
    if not isinstance(target, Application):
        raise LoadError(
            f"import_path {import_path!r}: {attr!r} is a {type(target).__name__}, not a bound application "
            "(Deployment.bind(...)); application builders that take arguments are not supported"
        )
    return target
