# ferrum tasks. Each wraps a plain Go command, so everything also works with
# only Go installed (see README.md).

# Start demo backends on 3001, 3002, 4000 and the proxy on ferrum.toml (port 8080).
demo:
    go run ./loadtest/demo

# Run the proxy alone on ferrum.toml.
run *args:
    go run . -config ferrum.toml {{args}}

# Validate ferrum.toml and print the route table.
check:
    go run . -check -config ferrum.toml

# vet, then every test with the race detector.
test:
    go vet ./...
    go test -race -count=1 ./...

# gofmt, vet and staticcheck, as CI runs them.
lint:
    test -z "$(gofmt -l .)" || (gofmt -l . && exit 1)
    go vet ./...
    go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Go benchmarks of the hot pieces (route match, pick round trip, header hygiene, whole request).
bench-go:
    go test -run '^$' -bench . -benchmem ./...

# wrk load test through ferrum (and, with --compare, nginx and HAProxy); see docs/benchmarking.md.
bench *args:
    go run ./loadtest/harness {{args}}

# Build a release binary into bin/ferrum.
build:
    mkdir -p bin
    go build -trimpath -ldflags "-s -w -X main.version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o bin/ferrum .
