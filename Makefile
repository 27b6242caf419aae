# The targets people run. `make test` is the command CI runs (.ci/run).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test build lint bench example

## test: formatting, vet and every test with the race detector
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

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
