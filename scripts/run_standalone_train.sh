#!/usr/bin/env bash
# Training on one card (or the CPU), the seed's command line:
#
#   resnext train --config CONFIG --data_dir DATA --distribute False
#
# as MindCV's and ModelZoo's scripts/run_standalone_train.sh wrap it. The output is shown and kept
# in LOG_DIR/train.log.
set -euo pipefail

usage() {
	cat <<EOF
Usage: $(basename "$0") [options] DATA_DIR [CONFIG_PATH] [-- TRAIN_ARGS...]

  DATA_DIR      the ImageFolder (train/<class>/..., val/<class>/...) or MNIST-format directory
  CONFIG_PATH   MindCV YAML (default: $default_config)
  TRAIN_ARGS    passed on to resnext train (e.g. -- --epoch_size 3 --device_target CPU)

Options (each also settable by the environment variable in brackets):
  -c CONFIG_PATH   same as the positional CONFIG_PATH
  -d DEVICE_ID     the card to train on (DEVICE_ID; default: the environment's, else 0)
  -o LOG_DIR       where train.log goes (LOG_DIR; default ./logs/standalone)
  -h               this help

The resnext binary is \$RESNEXT_BIN, else resnext on PATH, else built from this repository
with go build into a temporary directory.

Examples:
  $(basename "$0") /path/to/imagenet
  $(basename "$0") -d 3 /path/to/imagenet configs/resnext/resnext101_64x4d_ascend.yaml
  $(basename "$0") /usr/share/datasets/fashion-mnist configs/cpu/fashion_mnist.yaml -- --epoch_size 1
EOF
}

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/train_common.sh
. "$repo/scripts/lib/train_common.sh"
default_config=configs/resnext/resnext50_32x4d_ascend.yaml

config=${CONFIG_PATH:-}
log_dir=${LOG_DIR:-./logs/standalone}

while getopts ":c:d:o:h" opt; do
	case $opt in
	c) config=$OPTARG ;;
	d) export DEVICE_ID=$OPTARG ;;
	o) log_dir=$OPTARG ;;
	h)
		usage
		exit 0
		;;
	:) die "option -$OPTARG needs a value (-h for help)" ;;
	*) die "unknown option -$OPTARG (-h for help)" ;;
	esac
done
shift $((OPTIND - 1))

pos=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	pos+=("$1")
	shift
done
[ $# -gt 0 ] && shift # the "--"
extra=("$@")

[ ${#pos[@]} -ge 1 ] || {
	usage >&2
	die "missing DATA_DIR"
}
[ ${#pos[@]} -le 2 ] || die "too many arguments before --: ${pos[*]:2} (train's flags go after --)"
data_dir=${pos[0]}
[ ${#pos[@]} -ge 2 ] && config=${pos[1]}
config=${config:-$default_config}

if [ -n "${DEVICE_ID:-}" ] && ! [[ $DEVICE_ID =~ ^[0-9]+$ ]]; then
	die "DEVICE_ID (-d) must be a non-negative integer, got '$DEVICE_ID'"
fi
check_inputs
find_resnext

mkdir -p "$log_dir"
cmd=("$bin" train --config "$config" --data_dir "$data_dir" --distribute False ${extra[@]+"${extra[@]}"})
echo "log: $log_dir/train.log" >&2
echo "+ ${cmd[*]}" >&2
"${cmd[@]}" 2>&1 | tee "$log_dir/train.log"
