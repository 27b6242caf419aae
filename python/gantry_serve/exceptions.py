"""Exceptions raised by gantry_serve, named as Ray Serve names them where Ray has one."""

from __future__ import annotations


class RayServeException(Exception):
    """Base class of errors raised by the serving library (Ray's name, kept for ports)."""


class HandleCallError(RayServeException):
    """A handle call that the gateway answered with an HTTP error (not a user exception).

    ``status`` is the HTTP status, ``deployment`` and ``application`` name the target.
    """

    def __init__(self, message: str, *, status: int = 0, application: str = "", deployment: str = ""):
        super().__init__(message)
        self.status = status
        self.application = application
        self.deployment = deployment

    def __reduce__(self):
        return (_rebuild, (type(self), str(self), self.status, self.application, self.deployment))


def _rebuild(cls, message, status, application, deployment):
    return cls(message, status=status, application=application, deployment=deployment)


class BackPressureError(HandleCallError):
    """503: the deployment's queue is full or it has no replica (Ray's name)."""


class DeploymentUnavailableError(HandleCallError):
    """404: the gateway does not know the application or deployment."""


class HandleAuthError(HandleCallError):
    """401: GANTRY_HANDLE_TOKEN is missing or does not match the gateway's."""


class RequestTimeoutError(HandleCallError, TimeoutError):
    """504: the call exceeded the gateway's request timeout."""


class ReplicaFailedError(HandleCallError):
    """502: the replica serving the call failed before answering."""


class HandleConfigError(RayServeException, RuntimeError):
    """No handle endpoint is known to this process (GANTRY_HANDLE_ADDRESS is not set)."""
