"""``python -m gantry_serve.build IMPORT_PATH``: describe an application graph as JSON.

The gateway runs this once per deploy of an import_path application (PYPROTO.md 1). On
success it prints one JSON document, ``{"ingress": name, "deployments": [{"name": ...,
"options": {...}}]}`` with only the options set in code, and exits 0; on failure it prints
one paragraph naming the module, attribute and Python exception to stderr and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import context
from .graph import walk
from .loader import LoadError, load_application


def describe(import_path: str) -> dict[str, Any]:
    """Load the application at import_path and return its build document."""
    graph = walk(load_application(import_path))
    return {
        "ingress": graph.ingress,
        "deployments": [
            {"name": name, "options": node.deployment.options_set} for name, node in graph.nodes.items()
        ],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gantry_serve.build IMPORT_PATH", file=sys.stderr)
        return 2
    context.set_role("build")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    # The module's own prints (and native libraries writing to fd 1) must not mix with
    # the JSON document: point fd 1 at stderr while the module is imported.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        doc = describe(argv[0])
        text = json.dumps(doc)
    except LoadError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"import_path {argv[0]!r}: building the application graph failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
