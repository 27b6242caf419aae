"""The replica runner: ``python -m gantry_serve.replica IMPORT_PATH DEPLOYMENT``.

Started by the gateway for each replica of a Python deployment (PYPROTO.md 2): it imports
the application, constructs its deployment with handles for bound children, and serves
health, reconfigure, handle calls and ingress traffic on 127.0.0.1:$PORT.
"""

from .runner import main

__all__ = ["main"]
