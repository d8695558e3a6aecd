#!/usr/bin/env bash
# The input pipeline, resnext against torchvision on the same machine: the same JPEG folder, batch
# size and worker count through `resnext bench --mode data` (MindCV's transforms, with libjpeg-turbo
# and with the pure-Go decoder) and through torchvision's ImageFolder, MindCV-equivalent transforms
# and DataLoader (scripts/bench_data_torch.py; PIL decodes with libjpeg-turbo), train and eval
# pipelines, side by side with the ratios resnext/torchvision.
#
#   apt-get install python3-torch python3-torchvision python3-numpy libturbojpeg0   # Debian's PyTorch 1.13
#   scripts/bench_data_vs_torch.sh [--dir /tmp/resnext-jpeg-bench] [--workers 2] [--batch_size 64]
#                                  [--rounds 3]
#
# The folder is made once by scripts/make_jpeg_folder.py (1000 train and 200 val JPEGs of
# ImageNet's typical size, 500x375 and the like, quality 90, photographic detail; about 4 minutes)
# and kept for the next runs. Each side warms up for one epoch (workers started, page cache
# filled), then times two epochs; with --rounds R everything runs R times in turn and each figure
# is the median of its rounds (a ratio: the median of the rounds' ratios). resnext's peak resident
# memory is reported too (its loader holds at most workers + prefetch batches).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=/tmp/resnext-jpeg-bench workers=$(nproc) batch=64 rounds=3
usage() { sed -n '8,9p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
	--dir) dir=${2-} ;;
	--workers) workers=${2-} ;;
	--batch_size) batch=${2-} ;;
	--rounds) rounds=${2-} ;;
	-h | --help) usage ;;
	*) echo "unknown argument $1" >&2; usage ;;
	esac
	[ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
	shift 2
done
positive() { case $2 in '' | *[!0-9]* | 0 | 0*) echo "$1: $2 is not a positive whole number" >&2; exit 2 ;; esac; }
positive --workers "$workers"
positive --batch_size "$batch"
positive --rounds "$rounds"

py=/usr/bin/python3
$py -c 'import torch, torchvision, numpy' 2>/dev/null || {
	echo "Debian's PyTorch is missing: apt-get install python3-torch python3-torchvision python3-numpy" >&2
	exit 2
}
if [ ! -d "$dir/train" ] || [ ! -d "$dir/val" ]; then
	echo "making the benchmark folder $dir (about 4 minutes)" >&2
	$py scripts/make_jpeg_folder.py "$dir" >&2
fi
count() { find "$dir/$1" -type f | wc -l; }
ntrain=$(count train) nval=$(count val)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/resnext" ./cmd/resnext

# One epoch of warm-up and two timed ones, as bench_data_torch.py does.
steps_of() { # split images -> "warmup steps"
	local per=$(($2 / batch))
	[ "$1" = train ] || per=$((($2 + batch - 1) / batch))
	echo "$per $((2 * per))"
}
ours() { # split decoder -> JSON
	read -r warm steps < <(steps_of "$1" "$([ "$1" = train ] && echo "$ntrain" || echo "$nval")")
	"$tmp/resnext" bench --mode data --data_dir "$dir" --split "$1" --batch_size "$batch" \
		--num_parallel_workers "$workers" --jpeg_decoder "$2" --warmup "$warm" --steps "$steps" --json --log_format json 2>/dev/null
}
theirs() { # split -> JSON
	$py scripts/bench_data_torch.py "$dir" --split "$1" --batch_size "$batch" --workers "$workers" --epochs 2
}

for r in $(seq "$rounds"); do
	for split in train val; do
		ours "$split" libjpeg-turbo >"$tmp/turbo-$split-$r.json"
		ours "$split" go >"$tmp/go-$split-$r.json"
		theirs "$split" >"$tmp/torch-$split-$r.json"
	done
	echo "round $r of $rounds done" >&2
done

$py - "$tmp" "$rounds" "$workers" "$batch" "$ntrain" "$nval" <<'PY'
import json, os, statistics, sys
tmp, rounds, workers, batch, ntrain, nval = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def load(kind, split):
    return [json.load(open(os.path.join(tmp, "%s-%s-%d.json" % (kind, split, r)))) for r in range(1, rounds + 1)]
print("input pipeline, %s workers, batch %s, %s train / %s val JPEGs; medians of %d rounds" % (workers, batch, ntrain, nval, rounds))
print("%-6s %-28s %10s %10s %12s" % ("split", "pipeline", "img/s", "vs torch", "peak RSS"))
for split in ("train", "val"):
    torch = load("torch", split)
    print("%-6s %-28s %10.1f %10s %12s" % (split, "torchvision (PIL, DataLoader)", statistics.median(t["img_per_s"] for t in torch), "1.00x", "-"))
    for kind, name in (("turbo", "resnext, libjpeg-turbo"), ("go", "resnext, Go decoder")):
        ours = load(kind, split)
        ratio = statistics.median(o["img_per_s"] / t["img_per_s"] for o, t in zip(ours, torch))
        rss = statistics.median(o["peak_rss_bytes"] for o in ours) / 2**20
        print("%-6s %-28s %10.1f %9.2fx %9.1f MiB" % (split, name, statistics.median(o["img_per_s"] for o in ours), ratio, rss))
PY
