"""serve.run from a driver script: the import_path config it PUTs, run through
`python -m gantry_serve SCRIPT` (the ray.serve shim) against tests/standin_admin.py."""

from __future__ import annotations

import json
import os
import sys

from conftest import APPS, PYTHON, Processes, free_port, http_get, wait_for
import subprocess


def test_serve_run_deploys_import_path_and_keeps_the_rest_of_the_config(processes: Processes, tmp_path) -> None:
    port = free_port()
    record = tmp_path / "puts.jsonl"
    processes.start([PYTHON, str(APPS.parent / "standin_admin.py"), str(port), str(record), "http://127.0.0.1:9"], dict(os.environ))
    wait_for(lambda: http_get(f"http://127.0.0.1:{port}/api/ray/version")[0] == 200, what="stand-in REST API")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANTRY_HANDLE")}
    env["GANTRY_ADDRESS"] = f"http://127.0.0.1:{port}"
    result = subprocess.run(
        [PYTHON, "-m", "gantry_serve", "script.py"], cwd=APPS / "driver", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"deployment": "Greeter", "app": "greet", "handle_address": "http://127.0.0.1:9"}
    put = json.loads(record.read_text().splitlines()[-1])
    assert put["http_options"] == {"port": 8123}
    assert put["worker_groups"][0]["name"] == "tpu"
    assert put["applications"] == [
        {"name": "other", "route_prefix": "/other", "import_path": "other:app", "python": "/opt/py"},
        {
            "name": "greet",
            "import_path": "script:app",
            "runtime_env": {"working_dir": str(APPS / "driver")},
            "python": os.path.abspath(sys.executable),
            "route_prefix": "/greet",
        },
    ]


def test_serve_run_needs_a_module_level_app(tmp_path) -> None:
    script = tmp_path / "inline.py"
    script.write_text(
        "import gantry_serve as serve\n"
        "@serve.deployment\n"
        "def F(request):\n    return 'x'\n"
        "serve.run(F.bind())\n"
    )
    env = dict(os.environ, GANTRY_ADDRESS=f"http://127.0.0.1:{free_port()}")
    result = subprocess.run([PYTHON, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "serve.run needs the application in a module-level variable" in result.stderr
