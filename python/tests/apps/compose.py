"""A two-deployment application written against `ray.serve` (resolved to gantry_serve by the
shim when Ray is absent): a FastAPI ingress holding a handle to a model deployment."""

import asyncio

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

api = FastAPI()


@serve.deployment(ray_actor_options={"resources": {"TPU": 4}}, max_ongoing_requests=32)
class Model:
    def __init__(self, scale: int):
        self.scale = scale
        self.batches: list[int] = []
        self.prefix = "v0"

    def reconfigure(self, user_config: dict) -> None:
        self.prefix = user_config.get("prefix", self.prefix)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.5)
    async def predict(self, xs: list[int]) -> list[int]:
        self.batches.append(len(xs))
        return [x * self.scale for x in xs]

    async def __call__(self, x: int) -> int:
        return await self.predict(x)

    def batch_sizes(self) -> list[int]:
        return list(self.batches)

    def tag(self, text: str) -> str:
        return f"{self.prefix}:{text}"

    def fail(self, message: str) -> None:
        raise KeyError(message)

    async def count(self, n: int):
        for i in range(n):
            yield i
            await asyncio.sleep(0)

    async def count_then_fail(self, n: int):
        for i in range(n):
            yield i
        raise ValueError("stream broke")

    async def which_model(self) -> str:
        return serve.get_multiplexed_model_id()

    def count_sync(self, n: int):
        for i in range(n):
            yield f"item-{i}"


@serve.deployment(num_replicas=1)
@serve.ingress(api)
class Ingress:
    def __init__(self, model: DeploymentHandle):
        self.model = model

    @api.get("/double")
    async def double(self, x: int) -> dict:
        return {"result": await self.model.remote(x)}

    @api.get("/tag")
    def tag(self, text: str) -> dict:
        # A sync route: blocking .result() from a worker thread.
        return {"tag": self.model.tag.remote(text).result(timeout_s=10)}

    @api.get("/chain")
    async def chain(self, x: int) -> dict:
        # A DeploymentResponse passed to another call is resolved first.
        first = self.model.remote(x)
        return {"tag": await self.model.tag.remote(first)}

    @api.get("/fail")
    async def fail(self) -> dict:
        try:
            await self.model.fail.remote("boom")
        except KeyError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        return {"error": None}

    @api.get("/stream")
    async def stream(self, n: int) -> dict:
        gen = self.model.options(stream=True).count.remote(n)
        return {"items": [i async for i in gen]}

    @api.get("/stream_text")
    async def stream_text(self, n: int) -> StreamingResponse:
        gen = self.model.options(stream=True).count_sync.remote(n)

        async def lines():
            async for item in gen:
                yield item + "\n"

        return StreamingResponse(lines(), media_type="text/plain")


app = Ingress.bind(Model.options(user_config={"prefix": "v1"}).bind(3))
