# The targets people run. `make test` is the command CI runs (.ci/run).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# test-raycli runs Ray's own `serve` CLI from this venv (make raycli-venv).
VENV ?= .venv-ci
# test-oip runs Triton's Python client from its own venv (make oip-venv):
# its grpcio and protobuf pins are independent of Ray's.
OIP_VENV ?= .venv-oip
PYTHON ?= python3

.PHONY: test test-go test-raycli raycli-venv test-oip oip-venv generate build lint bench example

## test: formatting, vet, every Go test with the race detector, Ray's CLI and Triton's client against gantry
test: test-go test-raycli test-oip

## test-go: formatting, vet and every Go test with the race detector
test-go:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

## test-raycli: Ray's own `serve status` and `serve shutdown` against a real gantry (tests/raycli)
test-raycli: raycli-venv
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

## generate: regenerate the committed protobuf code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
generate:
	$(GO) generate ./oip/... ./internal/testgrpcreplica/...

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
