"""A deployment whose constructor takes far longer than any test (a model still loading)."""

import threading

import gantry_serve as serve


@serve.deployment
class Loading:
    def __init__(self) -> None:
        print("constructor started", flush=True)
        threading.Event().wait(600)


app = Loading.bind()
