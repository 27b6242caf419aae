"""``python -m gantry_serve SCRIPT [ARGS...]``: run a Ray Serve driver script unchanged.

Installs the ``ray.serve`` shim (only when Ray is not installed) and runs SCRIPT as
``__main__``, so a script that does ``from ray import serve`` and ``serve.run(app)`` deploys
to the local Gantry gateway without editing its imports.
"""

from __future__ import annotations

import os
import runpy
import sys

from . import shim


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m gantry_serve SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    shim.install()
    script = argv[0]
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
