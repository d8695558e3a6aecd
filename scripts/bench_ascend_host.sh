#!/usr/bin/env bash
# The host time of an Ascend training step, without a card: resnext bench on the Ascend backend
# against the test runtime in timing mode (acl/testruntime/README.md, "Timing mode"), where kernels
# do not compute and each aclnn GetWorkspaceSize and launch costs a fixed, simulated host time.
#
#   scripts/bench_ascend_host.sh [--steps 20] [--model resnext50_32x4d] [--batch_size 32]
#                                [--workspace_us 30] [--launch_us 5] [--soc CHIP]...
#                                [--variant "NAME=FLAGS"]... [-- EXTRA BENCH FLAGS]
#
# It builds the test runtime and resnext into a temporary directory, then runs, for each chip the
# test runtime is to behave as (--soc, RESNEXT_TESTRT_SOC; default Ascend910A, the first-generation
# 910, and Ascend910B1) and each variant,
#   resnext bench --device_target Ascend --mode train --model M --batch_size B --steps N --json FLAGS EXTRA
# and prints one line per run: the chip, the variant's name, host_ms_per_step_median,
# host_ms_per_step, ms_per_step_median and whether the timed steps were replays of a captured step.
# A variant's FLAGS are split at white space (no quoting). Without --variant the variants are the
# host-time measures on and off: all on; no graph capture; no executor cache; no fused optimizer;
# all off. For example:
#   scripts/bench_ascend_host.sh --soc Ascend910A --variant "all on=" --variant "no capture=--graph_capture=false" -- --warmup 3
# The values bench computes are meaningless in timing mode (no kernel runs; the loss reads 0): only
# the times mean something, and they are the host's.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=20 model=resnext50_32x4d batch=32 workspace_us=30 launch_us=5
variants=() socs=() extra=()
usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; extra=("$@"); break ;;
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
	-h | --help) usage ;;
	--steps | --model | --batch_size | --workspace_us | --launch_us | --variant | --soc)
		[ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
		case $1 in
		--steps) steps=$2 ;;
		--model) model=$2 ;;
		--batch_size) batch=$2 ;;
		--workspace_us) workspace_us=$2 ;;
		--launch_us) launch_us=$2 ;;
		--soc) socs+=("$2") ;;
		--variant)
			case $2 in *=*) ;; *) echo "--variant: \"$2\" is not NAME=FLAGS" >&2; exit 2 ;; esac
			variants+=("$2") ;;
		esac
		shift 2 ;;
	*) echo "unknown argument $1" >&2; usage ;;
	esac
done
for v in "steps=$steps" "batch_size=$batch" "workspace_us=$workspace_us" "launch_us=$launch_us"; do
	case ${v#*=} in '' | *[!0-9]*) echo "--${v%%=*}: ${v#*=} is not a non-negative integer" >&2; exit 2 ;; esac
done
[ ${#variants[@]} -gt 0 ] || variants=("all on=" "no graph capture=--graph_capture=false"
	"no executor cache=--executor_cache=false" "no fused optimizer=--fused_optimizer=false"
	"all off=--graph_capture=false --executor_cache=false --fused_optimizer=false")
[ ${#socs[@]} -gt 0 ] || socs=(Ascend910A Ascend910B1)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/build_testruntime.sh "$tmp/lib" >/dev/null
go build -o "$tmp/resnext" ./cmd/resnext

echo "# $model, batch $batch, $steps steps; workspace ${workspace_us} us, launch ${launch_us} us; load:$(uptime | sed 's/.*load average://')"
printf '%-12s %-20s %24s %17s %19s %9s\n' chip variant host_ms_per_step_median host_ms_per_step \
	ms_per_step_median captured
for soc in "${socs[@]}"; do for v in "${variants[@]}"; do
	name=${v%%=*}
	read -r -a flags <<<"${v#*=}" || true
	if ! RESNEXT_TESTRT_SOC=$soc RESNEXT_ACL_LIB_DIR="$tmp/lib" RESNEXT_TESTRT_TIMING=1 RESNEXT_TESTRT_WORKSPACE_US=$workspace_us \
		RESNEXT_TESTRT_LAUNCH_US=$launch_us "$tmp/resnext" bench --device_target Ascend --mode train \
		--model "$model" --batch_size "$batch" --steps "$steps" --json ${flags[@]+"${flags[@]}"} \
		${extra[@]+"${extra[@]}"} >"$tmp/out.json" 2>"$tmp/err.log"; then
		echo "$soc, variant \"$name\": resnext bench failed:" >&2
		tail -n 20 "$tmp/err.log" >&2
		exit 1
	fi
	python3 -c '
import json, sys
soc, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
def f(k):
    v = r.get(k)
    return "-" if v is None else "%.3f" % v
cap = r.get("graph_capture")
print("%-12s %-20s %24s %17s %19s %9s" % (soc, name, f("host_ms_per_step_median"), f("host_ms_per_step"),
      f("ms_per_step_median"), "-" if cap is None else ("yes" if cap else "no")))
' "$soc" "$name" "$tmp/out.json"
done; done
