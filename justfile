# ferrum tasks. Each wraps a plain Go command, so everything also works with
# only Go installed (see README.md).

# Start demo backends on 3001, 3002, 4000 and the proxy on ferrum.toml (port 8080); `just demo -h` for flags.
demo *args:
    go run ./loadtest/demo {{args}}

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

# Build a static release binary into bin/ferrum (version from git describe;
# without git, -version falls back to the build information).
build:
    mkdir -p bin
    CGO_ENABLED=0 go build -trimpath -buildvcs=true -ldflags "-s -w -X main.version=$(git describe --tags --always --dirty 2>/dev/null)" -o bin/ferrum .

# systemd-analyze verify on deploy/systemd (ExecStart pointed at a fresh bin/ferrum); silent when clean.
verify-systemd:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v systemd-analyze >/dev/null; then
        echo "verify-systemd: systemd-analyze not found; install it with: apt-get install -y systemd" >&2
        exit 1
    fi
    "{{just_executable()}}" --quiet --justfile "{{justfile()}}" build
    units=$(mktemp -d)
    trap 'rm -rf "$units"' EXIT
    cp deploy/systemd/ferrum.service deploy/systemd/ferrum.socket "$units"/
    # verify insists that ExecStart exists: point it at the binary just built.
    sed -i "s|^ExecStart=/usr/local/bin/ferrum |ExecStart=$PWD/bin/ferrum |" "$units"/ferrum.service
    grep -q "^ExecStart=$PWD/bin/ferrum " "$units"/ferrum.service
    out=$(systemd-analyze verify "$units"/ferrum.socket "$units"/ferrum.service 2>&1) || { echo "$out" >&2; exit 1; }
    if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi

# Container image from deploy/Containerfile with podman (vfs storage); `just image ferrum:v1` to tag.
image tag="ferrum:latest":
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v podman >/dev/null; then
        echo "image: podman not found; install it with: apt-get install -y podman" >&2
        exit 1
    fi
    "{{just_executable()}}" --justfile "{{justfile()}}" build
    # The image is FROM scratch: a binary linked against libc would not start.
    if ! go version -m bin/ferrum | grep -q 'CGO_ENABLED=0'; then
        echo "image: bin/ferrum was built with cgo; the scratch image needs CGO_ENABLED=0" >&2
        exit 1
    fi
    podman build --storage-driver vfs --ignorefile deploy/containerignore \
        --build-arg VERSION="$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
        -f deploy/Containerfile -t "{{tag}}" .

# promtool unit tests and syntax check of the alerting rules in deploy/prometheus.
test-rules:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v promtool >/dev/null; then
        echo "test-rules: promtool not found; install it with: apt-get install -y prometheus" >&2
        echo "(Debian's prometheus package ships promtool; 'systemctl disable --now prometheus' if you do not want the server)" >&2
        exit 1
    fi
    promtool check rules deploy/prometheus/ferrum-rules.yml
    promtool test rules deploy/prometheus/ferrum-rules.test.yml

# Torture experiments against the built binary (reload storm, backend kill, fd exhaustion...); see docs/reliability.md.
torture *args:
    go run ./loadtest/torture {{args}}

# Start-up, memory, idle CPU, probes and reload at 10..10,000 routes; see docs/benchmarking.md.
scale *args:
    go run ./loadtest/scale {{args}}
