"""A function deployment whose multiplexed loader is a module-level function."""

import gantry_serve as serve


@serve.multiplexed(max_num_models_per_replica=1)
async def load_adapter(model_id: str) -> str:
    return f"adapter-{model_id}"


@serve.deployment
async def Adapters(request) -> str:
    return await load_adapter(serve.get_multiplexed_model_id())


app = Adapters.bind()
