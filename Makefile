# The targets people run. `make test` is the command CI runs (.ci/run).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# test-raycli runs Ray's own `serve` CLI from this venv (make raycli-venv).
VENV ?= .venv-ci
# test-oip runs Triton's Python client from its own venv (make oip-venv):
# its grpcio and protobuf pins are independent of Ray's.
OIP_VENV ?= .venv-oip
# test-python runs the Python SDK's pytest suite from this venv (make py-venv).
PY_VENV ?= .venv-py
# test-flax runs the Flax Stable Diffusion example from its own venv (make
# flax-venv): jax, flax, transformers and diffusers pinned in
# examples/stable-diffusion/flax/requirements.txt, about 1 GB, and the SDK.
FLAX_VENV ?= .venv-flax
FLAX_EXAMPLE = examples/stable-diffusion/flax
# Where the example caches its tiny pipeline and JAX's compiled programs;
# CI keeps it between runs so the tier skips most compiles.
GANTRY_SD_CACHE ?= $(HOME)/.cache/gantry-sd
PYTHON ?= python3

.PHONY: test test-go test-fuzz test-reliability test-raycli raycli-venv test-oip oip-venv test-python py-venv test-flax flax-venv test-charts test-dashboard dashboard-deps chromium generate build lint bench example k8s-testenv

## test: formatting, vet, every Go test with the race detector (Kubernetes tests included), the fuzz targets for a bounded time, Ray's CLI and Triton's client against gantry, the Python SDK, the Flax Stable Diffusion example, the Helm chart, and the dashboard in a browser
test: test-go test-fuzz test-raycli test-oip test-python test-flax test-charts test-dashboard

## test-go: formatting, vet and every Go test with the race detector, the Kubernetes tests and the Python (import_path) applications' end-to-end tests included
test-go: export GANTRY_K8S_TESTS=1
test-go: export GANTRY_TEST_PYTHON=$(CURDIR)/$(PY_VENV)/bin/python
test-go: k8s-testenv py-venv
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

# The fuzz targets, package:FuzzName, each run alone for FUZZTIME.
FUZZ_TARGETS = ./deploy/config:FuzzParse ./oip:FuzzDecodeHTTPRequest ./router:FuzzWriteHead
FUZZTIME ?= 15s

## test-fuzz: each fuzz target (config parser, OIP REST decoder, router request head) for FUZZTIME (15s); a crasher is saved under the package's testdata/fuzz/
test-fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Where test-reliability writes its figures (a Markdown table), for bench/RESULTS.md.
RELIABILITY_RESULTS ?= $(CURDIR)/reliability-results.md

## test-reliability: issue 14's attacks replayed on a real gateway (tests/reliability, also part of test-go), with the figures written to RELIABILITY_RESULTS
test-reliability:
	rm -f $(RELIABILITY_RESULTS)
	GANTRY_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) $(GO) test -race -count=1 -timeout 10m ./tests/reliability
	@cat $(RELIABILITY_RESULTS)

## test-raycli: Ray's own `serve status` and `serve shutdown` against a real gantry (tests/raycli)
test-raycli: export GANTRY_TEST_PYTHON=$(CURDIR)/$(PY_VENV)/bin/python
test-raycli: raycli-venv py-venv
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/raycli

## raycli-venv: the Python venv test-raycli needs: ray[serve] and pytest, pinned in tests/raycli/requirements.txt
raycli-venv: $(VENV)/.installed

$(VENV)/.installed: tests/raycli/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/raycli/requirements.txt
	touch $@

## test-oip: Triton's tritonclient (gRPC and HTTP) against a real gantry (tests/oip)
test-oip: oip-venv
	$(OIP_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/oip

## oip-venv: the Python venv test-oip needs: tritonclient[grpc,http], grpcio-reflection and pytest, pinned in tests/oip/requirements.txt
oip-venv: $(OIP_VENV)/.installed

$(OIP_VENV)/.installed: tests/oip/requirements.txt
	$(PYTHON) -m venv $(OIP_VENV)
	$(OIP_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/oip/requirements.txt
	touch $@

## test-python: the Python SDK's tests (python/tests): batching, multiplexing, handles through real replica processes, streaming, errors, build, the ray.serve shim
test-python: py-venv
	cd python && $(abspath $(PY_VENV))/bin/python -m pytest -q -p no:cacheprovider tests

## py-venv: the Python venv test-python needs: the SDK (editable, from python/) with its pinned dependencies and pytest, pinned in python/requirements-test.txt
py-venv: $(PY_VENV)/.installed

$(PY_VENV)/.installed: python/requirements-test.txt python/pyproject.toml
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e ./python
	touch $@

## test-flax: the Flax Stable Diffusion example (examples/stable-diffusion/flax) with its tiny pipeline on 4 CPU devices: the model, its replicas on the SDK's runner, and serve-flax.yaml on a real gantry (checked with Ray's serve status too)
test-flax: flax-venv raycli-venv build
	GANTRY_BIN=$(CURDIR)/bin/gantry RAY_SERVE_CLI=$(CURDIR)/$(VENV)/bin/serve GANTRY_SD_CACHE=$(GANTRY_SD_CACHE) $(FLAX_VENV)/bin/python -m pytest -q -p no:cacheprovider $(FLAX_EXAMPLE)/tests

## flax-venv: the Python venv of the Flax example and test-flax: jax[cpu], flax, transformers, diffusers, fastapi, pinned in examples/stable-diffusion/flax/requirements.txt, and the SDK (editable, from python/)
flax-venv: $(FLAX_VENV)/.installed

$(FLAX_VENV)/.installed: $(FLAX_EXAMPLE)/requirements.txt python/pyproject.toml
	$(PYTHON) -m venv $(FLAX_VENV)
	$(FLAX_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(FLAX_EXAMPLE)/requirements.txt
	$(FLAX_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e ./python
	touch $@

## generate: regenerate the committed protobuf code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
generate:
	$(GO) generate ./oip/... ./internal/testgrpcreplica/...

## k8s-testenv: build (once; cached under ~/.cache/gantry-k8s) the etcd, kube-apiserver, kube-scheduler and kwok the Kubernetes tests run
k8s-testenv:
	@hack/k8s-testenv/build.sh >/dev/null

## test-charts: helm lint and helm template of charts/gantry (helm runs from the Go module proxy)
test-charts:
	hack/helm.sh lint --strict charts/gantry
	hack/helm.sh lint --strict charts/gantry -f charts/gantry/values-example.yaml --set metrics.serviceMonitor.enabled=true
	hack/helm.sh template gantry charts/gantry --include-crds >/dev/null
	hack/helm.sh template gantry charts/gantry -f charts/gantry/values-example.yaml --set metrics.serviceMonitor.enabled=true >/dev/null
## test-dashboard: the web dashboard in Debian's chromium, driven by Playwright, against a real gantry (tests/dashboard)
test-dashboard: dashboard-deps build
	cd tests/dashboard && GANTRY_BIN=$(CURDIR)/bin/gantry node --test --test-concurrency=1

## dashboard-deps: chromium (apt) and playwright-core (npm, pinned in tests/dashboard/package-lock.json)
dashboard-deps: chromium tests/dashboard/node_modules/.installed

tests/dashboard/node_modules/.installed: tests/dashboard/package-lock.json
	cd tests/dashboard && npm ci --no-audit --no-fund
	touch $@

## chromium: Debian's chromium at /usr/bin/chromium, installed with apt-get when missing
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	fi

## build: the gantry binary in ./bin
build:
	$(GO) build -o bin/gantry ./cmd/gantry

## lint: staticcheck (fetched through the Go module proxy)
lint:
	$(GO) run $(STATICCHECK) ./...

## bench: the data-path benchmark against direct and nginx (installs wrk and nginx-light if missing)
bench:
	$(GO) run ./bench/run

## example: run the Stable Diffusion example on the local backend
example:
	$(GO) run ./cmd/gantry serve examples/stable-diffusion/serve.yaml
