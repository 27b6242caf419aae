"""@serve.multiplexed in a real event loop: loads and evictions counted."""

from __future__ import annotations

import asyncio

import pytest

import gantry_serve as serve
from gantry_serve import context
from gantry_serve.multiplex import loaded_model_ids


class Closable:
    def __init__(self, name: str, log: list[str]):
        self.name, self.log = name, log

    async def aclose(self) -> None:
        self.log.append(f"aclose:{self.name}")


class Finalized:
    def __init__(self, name: str, log: list[str]):
        self.name, self.log = name, log

    def __del__(self) -> None:
        self.log.append(f"del:{self.name}")


class Holder:
    def __init__(self) -> None:
        self.loads: list[str] = []
        self.log: list[str] = []

    @serve.multiplexed(max_num_models_per_replica=2)
    async def get_model(self, model_id: str) -> object:
        self.loads.append(model_id)
        await asyncio.sleep(0)
        cls = Closable if model_id.startswith("c") else Finalized
        return cls(model_id, self.log)


def test_lru_loads_and_evictions() -> None:
    holder = Holder()

    async def main() -> None:
        for model_id in ["c1", "f2", "c1", "f3", "c1", "f2"]:
            assert (await holder.get_model(model_id)).name == model_id

    asyncio.run(main())
    # c1 stays hot; f2 is evicted by f3, f3 by f2.
    assert holder.loads == ["c1", "f2", "f3", "f2"]
    assert holder.log[:2] == ["del:f2", "del:f3"]
    assert set(loaded_model_ids()) >= {"c1", "f2"}


def test_eviction_awaits_aclose() -> None:
    holder = Holder()

    async def main() -> None:
        for model_id in ["c1", "c2", "c3"]:
            await holder.get_model(model_id)

    asyncio.run(main())
    assert holder.log == ["aclose:c1"]


def test_concurrent_requests_share_one_load() -> None:
    holder = Holder()

    async def main() -> list[str]:
        models = await asyncio.gather(*[holder.get_model("c9") for _ in range(5)])
        return [m.name for m in models]

    assert asyncio.run(main()) == ["c9"] * 5
    assert holder.loads == ["c9"]


def test_model_id_comes_from_the_request_context() -> None:
    assert serve.get_multiplexed_model_id() == ""
    token = context.set_multiplexed_model_id("m-1")
    try:
        assert serve.get_multiplexed_model_id() == "m-1"
    finally:
        context.reset_multiplexed_model_id(token)


def test_bad_limits_and_sync_loaders_are_refused() -> None:
    with pytest.raises(ValueError, match="max_num_models_per_replica: must be an int >= 1 or -1"):
        serve.multiplexed(max_num_models_per_replica=0)
    with pytest.raises(TypeError, match="must be 'async def'"):

        @serve.multiplexed
        def load(model_id: str) -> str:
            return model_id
