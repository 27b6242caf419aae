"""A deployment whose constructor raises."""

import gantry_serve as serve


@serve.deployment
class Failing:
    def __init__(self) -> None:
        raise RuntimeError("no weights here")


app = Failing.bind()
