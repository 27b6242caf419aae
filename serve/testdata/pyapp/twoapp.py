# A two-deployment Ray Serve application for Gantry's end-to-end tests:
# an ingress holding a handle to a model deployment, written against
# ray.serve (gantry-serve stands in for it when Ray is not installed).
import os

from ray import serve
from starlette.requests import Request

VERSION = os.environ.get("PYAPP_VERSION", "v1")


@serve.deployment(num_replicas=1, max_ongoing_requests=8)
class Model:
    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if x == "boom":
            raise ValueError("boom requested")
        return {"echo": x, "calls": self.calls, "replica": serve.get_replica_context().replica_tag}


@serve.deployment
class Ingress:
    def __init__(self, model):
        self.model = model

    async def __call__(self, request: Request):
        x = request.query_params.get("x", "hi")
        try:
            return await self.model.remote(x)
        except ValueError as e:
            return {"error": str(e)}


app = Ingress.bind(Model.bind())


@serve.deployment(num_replicas=3)
class Models:
    def __init__(self):
        self.loads = {}

    @serve.multiplexed(max_num_models_per_replica=2)
    async def get_model(self, model_id):
        self.loads[model_id] = self.loads.get(model_id, 0) + 1
        return model_id

    async def __call__(self, request: Request):
        model = await self.get_model(serve.get_multiplexed_model_id())
        return {"model": model, "loads": self.loads, "replica": serve.get_replica_context().replica_tag}


models = Models.bind()
