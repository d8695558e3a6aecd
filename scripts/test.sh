#!/usr/bin/env bash
# The project's checks, as CI runs them: formatting, vet, builds for every target, and the tests.
#   scripts/test.sh            all of it
#   scripts/test.sh -short     the same with go test -short
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== builds: cgo off, and linux/arm64 (the portable kernel path)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/resnext
GOARCH=arm64 CGO_ENABLED=0 go build -o /dev/null ./...

echo "== go test"
go test -count=1 "$@" ./...

echo "== go test -race (the packages that run kernels, loaders or servers on several goroutines)"
go test -count=1 -race "$@" ./ops/... ./nn/... ./internal/devmem/ ./data/... ./train/...

echo "== fuzz targets, 10 s each in at most 4 GiB of address space (scripts/fuzz.sh)"
if [ "${1:-}" != "-short" ]; then
	FUZZTIME=10s bash scripts/fuzz.sh
fi

echo "== data-parallel training under a real one-host Slurm (skipped where it cannot run: not root, no apt-get)"
if [ "${1:-}" != "-short" ]; then
	SLURM_TEST_OPTIONAL=1 bash scripts/test_slurm.sh
fi
