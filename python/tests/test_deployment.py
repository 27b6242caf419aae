"""serve.deployment, .options and .bind: options kept as set, checked, and the graph named."""

from __future__ import annotations

import pytest

import gantry_serve as serve
from gantry_serve.graph import walk


@serve.deployment
class Leaf:
    def __init__(self, n: int = 0):
        self.n = n


@serve.deployment(num_replicas="auto", autoscaling_config={"min_replicas": 1, "max_replicas": 4})
class Root:
    def __init__(self, *children):
        self.children = children


def test_only_options_set_in_code_are_kept() -> None:
    assert Leaf.options_set == {}
    assert Root.options_set == {"num_replicas": "auto", "autoscaling_config": {"min_replicas": 1, "max_replicas": 4}}
    tuned = Leaf.options(name="Tuned", max_ongoing_requests=8, health_check_period_s=2)
    assert tuned.name == "Tuned"
    assert tuned.options_set == {"max_ongoing_requests": 8, "health_check_period_s": 2}
    assert Leaf.options_set == {}  # options() copies
    assert tuned.max_ongoing_requests == 8


def test_bad_options_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"num_replicas: must be an int >= 0 or \"auto\", got -1"):
        Leaf.options(num_replicas=-1)
    with pytest.raises(ValueError, match="max_ongoing_requests: must be an int >= 1, got 0"):
        Leaf.options(max_ongoing_requests=0)
    with pytest.raises(TypeError, match="unknown deployment option 'num_replica'"):
        Leaf.options(num_replica=2)
    with pytest.raises(TypeError, match="'placement_group_bundles' is not supported by gantry-serve"):
        Leaf.options(placement_group_bundles=[{"CPU": 1}])
    with pytest.raises(ValueError, match="user_config: must be JSON-serializable"):
        Leaf.options(user_config={"f": object()})
    with pytest.raises(ValueError, match="exclusive"):
        serve.deployment(num_replicas=2, autoscaling_config={"max_replicas": 3})(Leaf.func_or_class)


def test_graph_walk_children_first_and_unique_names() -> None:
    a = Leaf.bind(1)
    graph = walk(Root.bind(a, [Leaf.bind(2)], {"again": a}))
    assert graph.ingress == "Root"
    assert list(graph.nodes) == ["Leaf", "Leaf_1", "Root"]


def test_deployment_is_not_callable_and_function_deployments_work() -> None:
    with pytest.raises(RuntimeError, match=r"use Leaf.bind\(...\)"):
        Leaf()

    @serve.deployment(name="Echo")
    def echo(request) -> str:
        return "x"

    assert walk(echo.bind()).ingress == "Echo"
