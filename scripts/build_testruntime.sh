#!/usr/bin/env bash
# Builds the Ascend test runtime (acl/testruntime, the host-memory stand-in for CANN) into DIR for
# use outside the tests: DIR/libascendcl.so, the links DIR/libnnopbase.so, DIR/libopapi.so and
# DIR/libhccl.so (HCCL across processes) to it, and the sources under DIR/src. Point resnext at it with RESNEXT_ACL_LIB_DIR=DIR.
#
#   scripts/build_testruntime.sh DIR
#
# The compiler is $CC, or gcc; the flags are the ones the tests use (testruntime.BuildInto, run by
# acl/testruntime/cmd/buildtestrt). It prints DIR's absolute path, and the compiler's diagnostics on
# stderr when there are any.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
	sed -n '6p' "$0" | sed 's/^# */usage: /' >&2
	exit 2
fi
dir=$1
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac

cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "build_testruntime.sh: the C compiler $cc is not installed (install gcc, or set CC)" >&2
	exit 1
fi
command -v go >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null 2>&1; then
	echo "build_testruntime.sh: go is not installed (nor in /usr/local/go/bin)" >&2
	exit 1
fi

cd "$(dirname "$0")/.."
go run ./acl/testruntime/cmd/buildtestrt "$dir"
