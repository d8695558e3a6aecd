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

die() {
	echo "$(basename "$0"): $*" >&2
	exit 2
}

repo=$(cd "$(dirname "$0")/.." && pwd)
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
# A relative config path is taken from the current directory, else from the repository.
if [ ! -f "$config" ] && [ "${config#/}" = "$config" ] && [ -f "$repo/$config" ]; then
	config=$repo/$config
fi
[ -f "$config" ] || die "config file not found: $config"
[ -d "$data_dir" ] || die "data directory not found: $data_dir"

# The binary: $RESNEXT_BIN, else PATH, else a build of this repository.
tmp=
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
if [ -n "${RESNEXT_BIN:-}" ]; then
	[ -x "$RESNEXT_BIN" ] || die "RESNEXT_BIN=$RESNEXT_BIN is not an executable file"
	bin=$RESNEXT_BIN
elif command -v resnext >/dev/null 2>&1; then
	bin=$(command -v resnext)
else
	go=$(command -v go || echo /usr/local/go/bin/go)
	[ -x "$go" ] || die "no resnext binary (set RESNEXT_BIN or put resnext on PATH) and no go to build one"
	tmp=$(mktemp -d)
	echo "building resnext from $repo into $tmp" >&2
	(cd "$repo" && "$go" build -o "$tmp/resnext" ./cmd/resnext) || die "go build ./cmd/resnext failed"
	bin=$tmp/resnext
fi

mkdir -p "$log_dir"
cmd=("$bin" train --config "$config" --data_dir "$data_dir" --distribute False ${extra[@]+"${extra[@]}"})
echo "log: $log_dir/train.log" >&2
echo "+ ${cmd[*]}" >&2
"${cmd[@]}" 2>&1 | tee "$log_dir/train.log"
