# The targets people run. `make test` is the command CI runs (.ci/run).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# test-raycli runs Ray's own `serve` CLI from this venv (make raycli-venv).
VENV ?= .venv-ci
PYTHON ?= python3

.PHONY: test test-go test-raycli raycli-venv test-dashboard dashboard-deps chromium build lint bench example

## test: formatting, vet, every Go test with the race detector, Ray's CLI and the dashboard in a browser
test: test-go test-raycli test-dashboard

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
