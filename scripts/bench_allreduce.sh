#!/bin/sh
# Measures the TCP ring all-reduce of dist/tcp against the machine's memory-copy bandwidth:
# 100 MB of float32 between 2 processes over loopback, the same between 2 ranks in one process,
# and a 100 MB copy. Prints the machine's load first, since other work skews the numbers.
set -eu
cd "$(dirname "$0")/.."
uptime
go test -count=1 -run '^TestTwoProcesses$' -v ./dist/tcp | grep -E 'GB/s|FAIL|ok'
go test -count=1 -run '^$' -bench 'AllReduce100MB|Memcpy100MB' -benchtime "${BENCHTIME:-10x}" ./dist/tcp | grep -E 'Benchmark|FAIL|ok'
