"""Entry point of ``python -m gantry_serve.replica``."""

import sys

from .runner import main

sys.exit(main(sys.argv[1:]))
