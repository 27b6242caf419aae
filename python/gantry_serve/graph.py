"""Walking a bound application graph: unique deployment names and their order.

The builder and every replica runner walk the same graph the same way, so a name means the
same node everywhere: depth-first from the ingress, children first, a node seen twice is one
deployment, and two distinct nodes of one deployment name get suffixes ``_1``, ``_2`` (Ray's
rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .deployment import Application


@dataclass
class Graph:
    """The deployments of one application, in walk order, and the ingress's name."""

    ingress: str
    nodes: dict[str, Application] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def name_of(self, node: Application) -> str:
        return self.names[id(node)]


def _children(value: Any) -> list[Application]:
    if isinstance(value, Application):
        return [value]
    if isinstance(value, (list, tuple)):
        return [c for item in value for c in _children(item)]
    if isinstance(value, dict):
        return [c for item in value.values() for c in _children(item)]
    return []


def walk(root: Application) -> Graph:
    """Name every node of the graph rooted at root."""
    if not isinstance(root, Application):
        raise TypeError(f"expected a bound application (Deployment.bind(...)), got {type(root).__name__}")
    used: dict[str, int] = {}
    graph = Graph(ingress="")
    order: list[tuple[str, Application]] = []
    visiting: set[int] = set()

    def visit(node: Application) -> None:
        if id(node) in graph.names:
            return
        if id(node) in visiting:
            raise ValueError(f"the application graph has a cycle through {node.deployment.name!r}")
        visiting.add(id(node))
        for child in _children(node.args) + _children(node.kwargs):
            visit(child)
        base = node.deployment.name
        count = used.get(base, 0)
        used[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        graph.names[id(node)] = name
        order.append((name, node))

    visit(root)
    graph.nodes = dict(order)
    graph.ingress = graph.names[id(root)]
    return graph


def replace_children(value: Any, make: Callable[[Application], Any]) -> Any:
    """Return value with every bound Application (also inside lists, tuples and dicts)
    replaced by make(node)."""
    if isinstance(value, Application):
        return make(value)
    if isinstance(value, list):
        return [replace_children(v, make) for v in value]
    if isinstance(value, tuple):
        return tuple(replace_children(v, make) for v in value)
    if isinstance(value, dict):
        return {k: replace_children(v, make) for k, v in value.items()}
    return value
