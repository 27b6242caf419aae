"""A Ray Serve driver script: `from ray import serve`, an app in a module-level variable,
serve.run under the main guard."""

import json

from ray import serve


@serve.deployment
class Greeter:
    def __call__(self, request) -> str:
        return "hi"


app = Greeter.bind()

if __name__ == "__main__":
    handle = serve.run(app, name="greet", route_prefix="/greet")
    from gantry_serve import transport

    print(json.dumps({"deployment": handle.deployment_name, "app": handle.app_name, "handle_address": transport.address()}))
