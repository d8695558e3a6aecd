#!/usr/bin/env bash
# Measures how much data parallelism costs on this machine: the median time of a training step of one
# process against that of each of N workers under resnext msrun at the same per-worker batch, every
# process on THREADS threads (msrun --bind_core True gives each worker its own cores): the workers side
# by side without averaging (what sharing the machine's memory and caches costs), then with the
# gradients averaged in buckets while the backward pass runs (bucket_cap_mb 25) and, to show what that
# overlap saves, in one bucket after it (bucket_cap_mb 100000). PyTorch's DistributedDataParallel over
# gloo runs the same comparison when Debian's python3-torch is installed (TORCH=0 skips it).
#
#   scripts/bench_data_parallel.sh                       # ResNeXt-50, batch 8 of 64x64 per worker, 2 workers
#   MODEL=resnext50_32x4d BATCH=16 SIZE=64 STEPS=10 RANKS=2 THREADS=1 scripts/bench_data_parallel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-resnext50_32x4d} BATCH=${BATCH:-8} SIZE=${SIZE:-64} STEPS=${STEPS:-10} RANKS=${RANKS:-2} THREADS=${THREADS:-1}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/resnext" ./cmd/resnext
port=$((20000 + RANDOM % 20000))
bench=("$bin/resnext" bench --model "$MODEL" --mode train --batch_size "$BATCH" --image_size "$SIZE" --steps "$STEPS" --warmup 2 --threads "$THREADS" --json)
median() { grep -o '"ms_per_step_median":[0-9.]*' | cut -d: -f2; }

uptime
echo "model $MODEL, batch $BATCH of ${SIZE}x$SIZE per worker, $THREADS thread(s) per process, median of $STEPS steps (ms)"
one=$("${bench[@]}" 2>/dev/null | median)
echo "resnext  1 process                                 $one"
for cap in none 25 100000; do
	log=$(mktemp -d)
	extra=(--distribute True --bucket_cap_mb "$cap")
	[ "$cap" = none ] && extra=()
	"$bin/resnext" msrun --worker_num "$RANKS" --local_worker_num "$RANKS" --join True --bind_core True --master_port "$port" \
		--log_dir "$log" "${bench[@]}" "${extra[@]}" >/dev/null 2>&1
	port=$((port + 2))
	dp=$(grep -h '^{' "$log"/worker_0.log | median)
	rm -rf "$log"
	case $cap in
	none) what="side by side, no averaging"; alone=$dp ;;
	25) what="buckets of 25 MiB, during backward" ;;
	*) what="one bucket, after backward" ;;
	esac
	printf 'resnext  %d workers, %-34s %s  (%sx one process, %s ms over side by side)\n' "$RANKS" "$what" "$dp" \
		"$(awk -v a="$dp" -v b="$one" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$dp" -v b="$alone" 'BEGIN { printf "%.0f", a - b }')"
done
if [ "${TORCH:-1}" = 1 ] && /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
	/usr/bin/python3 scripts/bench_ddp_torch.py --model "$MODEL" --batch_size "$BATCH" --image_size "$SIZE" --steps "$STEPS" \
		--threads "$THREADS" --ranks "$RANKS" --port "$port" | while read -r line; do
		r=$(echo "$line" | grep -o '"ranks": [0-9]*' | cut -d' ' -f2)
		m=$(echo "$line" | grep -o '"ms_per_step_median": [0-9.]*' | cut -d' ' -f2)
		echo "pytorch  $r process(es) (DDP over gloo when more than 1)    $m"
	done
fi
