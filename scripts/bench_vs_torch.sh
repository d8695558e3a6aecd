#!/usr/bin/env bash
# A whole model, resnext against PyTorch on the same machine: `resnext bench` on the CPU backend and
# the same work in PyTorch (torchvision's model, random initialisation, the same batch and image
# size), then images per second, the median time per step and the peak resident memory of each side
# with the ratio resnext/torch.
#
#   apt-get install python3-torch python3-torchvision libopenblas0-pthread   # Debian's PyTorch 1.13
#   scripts/bench_vs_torch.sh [--batch_size 16] [--steps 5] [--warmup 1] [--modes "infer train"]
#                             [--model resnext50_32x4d] [--image_size 224] [--rounds 1]
#
# infer is the forward pass in evaluation mode (PyTorch: eval() under no_grad); train is a training
# step: forward in training mode, cross-entropy with label smoothing 0.1, backward, momentum SGD
# (momentum 0.9, weight decay 1e-4, learning rate 0.01). Each side runs the warm-up steps untimed,
# then the timed ones. Each run is its own process, so each peak RSS (getrusage's ru_maxrss) is its
# own. With --rounds R the pair runs R times in turn, and the report gives the median of each figure
# over the rounds and the median of the rounds' ratios: on a shared machine whose speed drifts from
# minute to minute, the ratio of two runs made a minute apart is steadier than either figure. Both sides use every core (--threads $(nproc), torch.set_num_threads(nproc));
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the PyTorch side only, so OpenBLAS picks its
# own kernel for this CPU. The models are MindCV's ImageNet variants (resnext50_32x4d,
# resnext101_32x4d, resnext101_64x4d, resnext152_64x4d, resnet50), built in PyTorch as torchvision's
# ResNet with the same blocks, groups and width; the only difference is the stem's max-pool padding
# (MindCV's "same" against torchvision's symmetric), which costs the same.
set -euo pipefail
cd "$(dirname "$0")/.."

batch=16 steps=5 warmup=1 modes="infer train" model=resnext50_32x4d image_size=224 rounds=1
usage() { sed -n '7,8p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
	--batch_size) batch=$2 ;;
	--steps) steps=$2 ;;
	--warmup) warmup=$2 ;;
	--modes) modes=$2 ;;
	--model) model=$2 ;;
	--image_size) image_size=$2 ;;
	--rounds) rounds=$2 ;;
	-h | --help) usage ;;
	*) echo "unknown argument $1" >&2; usage ;;
	esac
	[ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
	shift 2
done
for m in $modes; do
	case $m in infer | train) ;; *) echo "--modes: $m is not infer or train" >&2; exit 2 ;; esac
done
case $rounds in '' | *[!0-9]* | 0) echo "--rounds: $rounds is not a positive number" >&2; exit 2 ;; esac

threads=$(nproc)
py=/usr/bin/python3
if ! $py -c 'import torch, torchvision' 2>/dev/null; then
	echo "PyTorch is missing: apt-get install python3-torch python3-torchvision libopenblas0-pthread" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/resnext" ./cmd/resnext
cat >"$tmp/bench.py" <<'PY'
import json, resource, statistics, sys, time
import torch, torchvision
from torchvision.models.resnet import Bottleneck, ResNet

model_name, mode = sys.argv[1], sys.argv[2]
batch, image_size, warmup, steps, threads = map(int, sys.argv[3:8])
torch.set_num_threads(threads)
torch.manual_seed(0)
# blocks per stage, groups, width per group: MindCV's ImageNet variants.
variants = {
    "resnext50_32x4d": ([3, 4, 6, 3], 32, 4), "resnext101_32x4d": ([3, 4, 23, 3], 32, 4),
    "resnext101_64x4d": ([3, 4, 23, 3], 64, 4), "resnext152_64x4d": ([3, 8, 36, 3], 64, 4),
    "resnet50": ([3, 4, 6, 3], 1, 64),
}
if model_name not in variants:
    sys.exit(f"{model_name}: not an ImageNet variant PyTorch can build here ({', '.join(variants)})")
if hasattr(torchvision.models, model_name):
    model = getattr(torchvision.models, model_name)()
else:
    layers, groups, width = variants[model_name]
    model = ResNet(Bottleneck, layers, groups=groups, width_per_group=width)
x = torch.randn(batch, 3, image_size, image_size)
y = torch.randint(0, 1000, (batch,))
if mode == "infer":
    model.eval()
    def step():
        with torch.no_grad():
            model(x)
else:
    model.train()
    crit = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
for _ in range(warmup):
    step()
times = []
for i in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
    print(f"torch {mode} step {i + 1}/{steps}: {times[-1] * 1e3:.1f} ms", file=sys.stderr)
print(json.dumps({
    "img_per_s": batch * steps / sum(times),
    "ms_per_step": sum(times) / steps * 1e3,
    "ms_per_step_median": statistics.median(times) * 1e3,
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "torch": torch.__version__,
}))
PY

cat >"$tmp/report.py" <<'PY'
import json, statistics, sys
modes, where, rounds = sys.argv[1].split(), sys.argv[2], int(sys.argv[3])
figures = [("img/s", lambda d: d["img_per_s"], "%.2f", "higher is better"),
           ("ms/step (median)", lambda d: d["ms_per_step_median"], "%.1f", "lower is better"),
           ("peak RSS (MiB)", lambda d: d["peak_rss_bytes"] / 2**20, "%.0f", "lower is better")]
med = statistics.median
print(f"{'mode':<6} {'figure':<18} {'resnext':>10} {'torch':>10} {'resnext/torch':>14}")
for mode in modes:
    go = [json.load(open(f"{where}/resnext.{mode}.{r}.json")) for r in range(rounds)]
    th = [json.load(open(f"{where}/torch.{mode}.{r}.json")) for r in range(rounds)]
    for name, get, fmt, better in figures:
        a, b = [get(d) for d in go], [get(d) for d in th]
        ratios = [x / y for x, y in zip(a, b)]
        spread = f", rounds {min(ratios):.2f}-{max(ratios):.2f}x" if rounds > 1 else ""
        print(f"{mode:<6} {name:<18} {fmt % med(a):>10} {fmt % med(b):>10} {med(ratios):>13.3f}x  ({better}{spread})")
PY

start=$SECONDS
for round in $(seq 0 $((rounds - 1))); do
	for mode in $modes; do
		echo "== $model $mode, round $((round + 1)) of $rounds: resnext" >&2
		t0=$SECONDS
		"$tmp/resnext" bench --model "$model" --mode "$mode" --batch_size "$batch" --image_size "$image_size" \
			--warmup "$warmup" --steps "$steps" --device_target CPU --threads "$threads" --json >"$tmp/resnext.$mode.$round.json"
		echo "   $((SECONDS - t0)) s" >&2
		echo "== $model $mode, round $((round + 1)) of $rounds: torch" >&2
		t0=$SECONDS
		env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$tmp/bench.py" "$model" "$mode" "$batch" "$image_size" \
			"$warmup" "$steps" "$threads" >"$tmp/torch.$mode.$round.json"
		echo "   $((SECONDS - t0)) s" >&2
	done
done

first=${modes%% *}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; torch $($py -c 'import json, sys; print(json.load(sys.stdin)["torch"])' <"$tmp/torch.$first.0.json")"
echo "resnext: $($py -c 'import json, sys; print(json.load(sys.stdin)["device"])' <"$tmp/resnext.$first.0.json")"
echo "$model, batch $batch, ${image_size}x${image_size}, $warmup warm-up + $steps timed steps per mode, $rounds round(s) ($((SECONDS - start)) s in all)"
$py "$tmp/report.py" "$modes" "$tmp" "$rounds"
