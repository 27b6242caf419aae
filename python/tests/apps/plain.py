"""Deployments without FastAPI: __call__ with a Starlette Request, multiplexed models,
health and reconfigure, a slow request for the drain test, and a streaming function."""

import asyncio

import gantry_serve as serve


class TinyModel:
    def __init__(self, name: str, evicted: list[str]):
        self.name = name
        self._evicted = evicted

    async def aclose(self) -> None:
        self._evicted.append(self.name)


@serve.deployment
class Models:
    def __init__(self) -> None:
        self.loads: list[str] = []
        self.evicted: list[str] = []
        self.healthy = True
        self.inflight = 0
        self.tag_at_init = serve.get_replica_context().replica_tag

    @serve.multiplexed(max_num_models_per_replica=2)
    async def get_model(self, model_id: str) -> TinyModel:
        self.loads.append(model_id)
        return TinyModel(model_id, self.evicted)

    def reconfigure(self, user_config: dict) -> None:
        if user_config.get("fail"):
            raise ValueError("fail was set in user_config")
        self.healthy = user_config.get("healthy", True)

    def check_health(self) -> None:
        if not self.healthy:
            raise RuntimeError("unhealthy on purpose")

    async def __call__(self, request):
        if request.url.path.endswith("/slow"):
            self.inflight += 1
            try:
                await asyncio.sleep(1.0)  # the workload the drain test waits for
            finally:
                self.inflight -= 1
            return "slow done"
        if request.url.path.endswith("/inflight"):
            return {"inflight": self.inflight}
        model_id = serve.get_multiplexed_model_id()
        body = {"path": request.url.path, "root_path": request.scope.get("root_path", "")}
        if model_id:
            model = await self.get_model(model_id)
            body.update(model=model.name, loads=self.loads, evicted=self.evicted)
        ctx = serve.get_replica_context()
        assert ctx.servable_object is self
        body.update(app=ctx.app_name, deployment=ctx.deployment, replica=ctx.replica_tag, tag_at_init=self.tag_at_init)
        return body


@serve.deployment
def Streamer(request):
    n = int(request.query_params.get("n", "3"))
    for i in range(n):
        yield f"chunk-{i};"


app = Models.bind()
stream_app = Streamer.bind()
