#!/usr/bin/env bash
# Data-parallel training on this node's cards (or CPU cores), the seed's command line:
#
#   resnext msrun --bind_core=True --worker_num N resnext train --config CONFIG --data_dir DATA
#
# as MindCV's and ModelZoo's scripts/run_distribute_train.sh wrap it. One msrun per node: on a
# single node it starts all N workers; on several nodes run this script on each with -l (workers on
# this node), -r (this node's rank) and -m (the first node's address). docs/CLUSTERS.md has Slurm
# and Kubernetes.
set -euo pipefail

usage() {
	cat <<EOF
Usage: $(basename "$0") [options] DATA_DIR [CONFIG_PATH [WORKER_NUM]] [-- TRAIN_ARGS...]

  DATA_DIR      the ImageFolder (train/<class>/..., val/<class>/...) or MNIST-format directory
  CONFIG_PATH   MindCV YAML (default: $default_config)
  WORKER_NUM    workers in the whole job (default: 8, one per card)
  TRAIN_ARGS    passed on to resnext train (e.g. -- --epoch_size 3 --ckpt_save_dir ./ckpt)

Options (each also settable by the environment variable in brackets):
  -c CONFIG_PATH     same as the positional CONFIG_PATH
  -n WORKER_NUM      same as the positional WORKER_NUM
  -l LOCAL_NUM       workers on this node (LOCAL_WORKER_NUM; default: WORKER_NUM)
  -r NODE_RANK       this node's index among the job's nodes (NODE_RANK; default: -1, msrun's)
  -m MASTER_ADDR     the first node's address, where the scheduler runs (MASTER_ADDR; default 127.0.0.1)
  -p MASTER_PORT     the scheduler's port (MASTER_PORT; default 8118)
  -o LOG_DIR         where worker_<rank>.log go (LOG_DIR; default ./logs/distribute)
  -R MAX_RESTARTS    restart the workers after a failure, up to this many times, resuming from the
                     latest checkpoint (MAX_RESTARTS; default 0)
  -B True|False      msrun --bind_core (BIND_CORE; default True, as the seed)
  -J True|False      msrun --join: stop every worker when one fails (JOIN; default True)
  -h                 this help

The resnext binary is \$RESNEXT_BIN, else resnext on PATH, else built from this repository
with go build into a temporary directory.

Examples:
  $(basename "$0") /path/to/imagenet
  $(basename "$0") /path/to/imagenet configs/resnext/resnext101_32x4d_ascend.yaml 8 -- --epoch_size 3
  $(basename "$0") -n 2 -B False /usr/share/datasets/fashion-mnist configs/cpu/fashion_mnist.yaml
  # two nodes of 8 cards: on node 0, then on node 1
  $(basename "$0") -n 16 -l 8 -r 0 -m 10.0.0.1 /data/imagenet
  $(basename "$0") -n 16 -l 8 -r 1 -m 10.0.0.1 /data/imagenet
EOF
}

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/train_common.sh
. "$repo/scripts/lib/train_common.sh"
default_config=configs/resnext/resnext50_32x4d_ascend.yaml

config=${CONFIG_PATH:-}
worker_num=${WORKER_NUM:-}
local_num=${LOCAL_WORKER_NUM:-}
node_rank=${NODE_RANK:--1}
master_addr=${MASTER_ADDR:-127.0.0.1}
master_port=${MASTER_PORT:-8118}
log_dir=${LOG_DIR:-./logs/distribute}
max_restarts=${MAX_RESTARTS:-0}
bind_core=${BIND_CORE:-True}
join=${JOIN:-True}

while getopts ":c:n:l:r:m:p:o:R:B:J:h" opt; do
	case $opt in
	c) config=$OPTARG ;;
	n) worker_num=$OPTARG ;;
	l) local_num=$OPTARG ;;
	r) node_rank=$OPTARG ;;
	m) master_addr=$OPTARG ;;
	p) master_port=$OPTARG ;;
	o) log_dir=$OPTARG ;;
	R) max_restarts=$OPTARG ;;
	B) bind_core=$OPTARG ;;
	J) join=$OPTARG ;;
	h)
		usage
		exit 0
		;;
	:) die "option -$OPTARG needs a value (-h for help)" ;;
	*) die "unknown option -$OPTARG (-h for help)" ;;
	esac
done
shift $((OPTIND - 1))

# Positionals up to "--", the rest is resnext train's.
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
[ ${#pos[@]} -le 3 ] || die "too many arguments before --: ${pos[*]:3} (train's flags go after --)"
data_dir=${pos[0]}
[ ${#pos[@]} -ge 2 ] && config=${pos[1]}
[ ${#pos[@]} -ge 3 ] && worker_num=${pos[2]}
config=${config:-$default_config}
worker_num=${worker_num:-8}
local_num=${local_num:-$worker_num}

is_count() { [[ $1 =~ ^[0-9]+$ ]] && [ "$((10#$1))" -gt 0 ]; }

is_count "$worker_num" || die "WORKER_NUM must be a positive integer, got '$worker_num'"
is_count "$local_num" || die "LOCAL_WORKER_NUM (-l) must be a positive integer, got '$local_num'"
[ "$((10#$local_num))" -le "$((10#$worker_num))" ] ||
	die "LOCAL_WORKER_NUM ($local_num) is more than WORKER_NUM ($worker_num)"
[[ $node_rank =~ ^(-1|[0-9]+)$ ]] || die "NODE_RANK (-r) must be -1 or a non-negative integer, got '$node_rank'"
if ! [[ $master_port =~ ^[0-9]+$ ]] || [ "$((10#$master_port))" -lt 1 ] || [ "$((10#$master_port))" -gt 65535 ]; then
	die "MASTER_PORT (-p) must be a port in 1..65535, got '$master_port'"
fi
[[ $max_restarts =~ ^[0-9]+$ ]] || die "MAX_RESTARTS (-R) must be a non-negative integer, got '$max_restarts'"
[ "$worker_num" = "$local_num" ] || [ "$node_rank" != -1 ] ||
	die "a job over several nodes (LOCAL_WORKER_NUM $local_num < WORKER_NUM $worker_num) needs NODE_RANK (-r) on every node"

check_inputs
find_resnext

mkdir -p "$log_dir"
cmd=("$bin" msrun
	--bind_core="$bind_core"
	--worker_num "$worker_num"
	--local_worker_num "$local_num"
	--node_rank "$node_rank"
	--master_addr "$master_addr"
	--master_port "$master_port"
	--log_dir "$log_dir"
	--join "$join"
	--max_restarts "$max_restarts"
	"$bin" train --config "$config" --data_dir "$data_dir" --distribute True
	${extra[@]+"${extra[@]}"})
echo "workers' logs: $log_dir/worker_<rank>.log" >&2
echo "+ ${cmd[*]}" >&2
"${cmd[@]}"
