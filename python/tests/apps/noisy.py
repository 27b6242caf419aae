"""An app whose module prints while imported (the builder keeps it off its JSON)."""

import gantry_serve as serve

print("importing noisy")


@serve.deployment
def Hello(request) -> str:
    return "hello"


app = Hello.bind()
