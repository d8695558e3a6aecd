#!/usr/bin/env bash
# Time to accuracy, resnext against PyTorch on the same machine: `resnext train` and the same network
# with the same recipe in PyTorch (scripts/fmnist_torch.py) train on Fashion-MNIST one after the
# other, then a table gives the test top-1 after each epoch and the wall time at which each side
# reached it, the time to first reach --target, the total and training-only times and images per
# second, with the ratios resnext/torch.
#
#   apt-get install python3-torch python3-torchvision python3-yaml dataset-fashion-mnist   # Debian's PyTorch 1.13
#   scripts/fmnist_vs_torch.sh [--config configs/cpu/fashion_mnist.yaml] [--data_dir DIR] [--epochs N]
#                              [--target 0.93] [--threads 2] [--rounds 1]
#
# The recipe is read from --config on both sides (the model, batch size, schedule, optimizer, loss
# and augmentation; see scripts/fmnist_torch.py for what the PyTorch side reproduces and how).
# --data_dir (default /usr/share/datasets/fashion-mnist, the full set; "" for the 2000-image sample
# embedded in the binary) and --threads (default 2: `resnext train --threads`, torch.set_num_threads)
# are the same for both. --epochs N overrides epoch_size for quick checks, and decay_epochs with
# N - warmup_epochs (at least 1) so that the schedule still ends at the last epoch. Both sides
# evaluate the test split after every epoch, in batches of the YAML's eval_batch_size or 500.
#
# Every time is wall time from the start of the side's process (loading the data, building the
# model and, for resnext, writing a checkpoint every epoch included); "training" counts the
# training loops only, and images/s is over those. With --rounds R the pair runs R times in turn,
# and every figure is the median over the rounds (a ratio: the median of the rounds' ratios).
# The report also gives each side's CPU use (CPU time over wall time) and the share of the
# machine's CPU time that other work took during its run (other processes and the hypervisor's
# steal time, from /proc/stat): PyTorch's OpenMP threads slow down badly on shared cores, so compare
# figures from a quiet machine. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the PyTorch
# side only, as in scripts/bench_vs_torch.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

config=configs/cpu/fashion_mnist.yaml data_dir=/usr/share/datasets/fashion-mnist epochs="" target=0.93 threads=2 rounds=1
usage() { sed -n '9,10p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
	--config | -c) config=${2-} ;;
	--data_dir) data_dir=${2-} ;;
	--epochs) epochs=${2-} ;;
	--target) target=${2-} ;;
	--threads) threads=${2-} ;;
	--rounds) rounds=${2-} ;;
	-h | --help) usage ;;
	*) echo "unknown argument $1" >&2; usage ;;
	esac
	[ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
	shift 2
done
positive() { case $2 in '' | *[!0-9]* | 0 | 0*) echo "$1: $2 is not a positive whole number" >&2; exit 2 ;; esac; }
[ -z "$epochs" ] || positive --epochs "$epochs"
positive --threads "$threads"
positive --rounds "$rounds"
[ -f "$config" ] || { echo "--config $config: no such file (the recipe, e.g. configs/cpu/fashion_mnist.yaml)" >&2; exit 2; }
if [ -n "$data_dir" ] && ! ls "$data_dir"/train-images-idx3-ubyte* >/dev/null 2>&1; then
	echo "--data_dir $data_dir: no train-images-idx3-ubyte[.gz] there: apt-get install dataset-fashion-mnist," >&2
	echo "or give the folder of the MNIST-format files (--data_dir \"\" trains on the embedded sample)" >&2
	exit 2
fi

py=/usr/bin/python3
if ! $py -c 'import torch, yaml' 2>/dev/null; then
	echo "PyTorch or PyYAML is missing: apt-get install python3-torch python3-torchvision python3-yaml" >&2
	exit 1
fi
# The target as a fraction in (0, 1]; the evaluation batch and, with --epochs, the schedule's
# override, from the recipe (MindCV's default warmup_epochs is 3 when the file has none).
read -r eval_batch decay < <($py - "$config" "$target" "${epochs:-0}" <<'PY'
import sys, yaml
path, target, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    t = float(target)
except ValueError:
    t = -1
if not 0 < t <= 1:
    sys.exit(f"--target {target}: want a fraction of the test set in (0, 1], such as 0.93")
try:
    cfg = yaml.safe_load(open(path)) or {}
except (OSError, yaml.YAMLError) as e:
    sys.exit(f"--config {path}: {e}")
if not isinstance(cfg, dict):
    sys.exit(f"--config {path}: want a mapping of keys to values")
print(int(cfg.get("eval_batch_size") or 500), max(1, epochs - int(cfg.get("warmup_epochs", 3))))
PY
) || exit 2
[ -n "${decay:-}" ] || exit 2
override=()
[ -z "$epochs" ] || override=(--epoch_size "$epochs" --decay_epochs "$decay")

command -v go >/dev/null || { echo "go is not on PATH: export PATH=/usr/local/go/bin:\$PATH (Go 1.26)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== building resnext" >&2
go build -o "$tmp/resnext" ./cmd/resnext

# run.py SPAN OUT ERR CMD...: runs CMD with its output in OUT and ERR, and writes to SPAN its start
# and end (seconds since the epoch) and the share of the machine's CPU time that others took
# meanwhile (other processes, and time the hypervisor gave to other guests: /proc/stat's steal).
cat >"$tmp/run.py" <<'PY'
import json, os, resource, subprocess, sys, time
def cpu():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(v), sum(v) - v[3] - v[4]  # all, busy (not idle or iowait)
span, out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
c0, t0 = cpu(), time.time()
with open(out, "w") as o, open(err, "w") as e:
    rc = subprocess.call(cmd, stdout=o, stderr=e)
t1, c1 = time.time(), cpu()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
mine = ru.ru_utime + ru.ru_stime
others = None
if c0 and c1 and c1[0] > c0[0]:
    hz = os.sysconf("SC_CLK_TCK")
    others = max(0.0, (c1[1] - c0[1]) / hz - mine) / ((c1[0] - c0[0]) / hz)
json.dump({"start": t0, "end": t1, "cpu_s": mine, "others": others}, open(span, "w"))
print(f"   {t1 - t0:.0f} s" + ("" if others is None else f", others took {100 * others:.0f}% of the CPUs meanwhile"), file=sys.stderr)
sys.exit(rc)
PY
fail() { # side, log
	echo "$1 failed; the end of its output ($2):" >&2
	tail -n 20 "$2" >&2
	exit 1
}
start=$SECONDS
for round in $(seq 0 $((rounds - 1))); do
	echo "== round $((round + 1)) of $rounds: resnext train" >&2
	dir=$tmp/resnext.$round
	$py "$tmp/run.py" "$tmp/resnext.$round.span" "$tmp/resnext.$round.log" "$tmp/resnext.$round.log2" \
		"$tmp/resnext" train -c "$config" --data_dir "$data_dir" --threads "$threads" --ckpt_save_dir "$dir" \
		--log_format json --val_while_train True --val_interval 1 --eval_batch_size "$eval_batch" "${override[@]}" ||
		{ cat "$tmp/resnext.$round.log2" >>"$tmp/resnext.$round.log"; fail "resnext train" "$tmp/resnext.$round.log"; }
	cat "$tmp/resnext.$round.log2" >>"$tmp/resnext.$round.log"
	cp "$dir/metrics.jsonl" "$tmp/resnext.$round.jsonl"
	rm -rf "$dir"

	echo "== round $((round + 1)) of $rounds: PyTorch" >&2
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$tmp/run.py" "$tmp/torch.$round.span" "$tmp/torch.$round.jsonl" \
		"$tmp/torch.$round.log" $py scripts/fmnist_torch.py --config "$config" --data_dir "$data_dir" \
		--threads "$threads" --eval_batch_size "$eval_batch" "${override[@]}" ||
		fail "scripts/fmnist_torch.py" "$tmp/torch.$round.log"
done

cat >"$tmp/report.py" <<'PY'
import datetime, json, re, statistics, sys

where, rounds, target, config, data_dir, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:7]
med = statistics.median


def go_time(s):
    """An RFC 3339 time with up to nanoseconds, as seconds since the epoch."""
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s)
    if not m:
        sys.exit(f"{where}: metrics time {s!r} is not RFC 3339")
    base = datetime.datetime.fromisoformat(m[1] + (m[3] if m[3] != "Z" else "+00:00"))
    return base.timestamp() + float(m[2] or 0)


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def resnext_run(r):
    span = json.load(open(f"{where}/resnext.{r}.span"))
    recs = lines(f"{where}/resnext.{r}.jsonl")
    info = {}
    for l in open(f"{where}/resnext.{r}.log"):
        try:
            rec = json.loads(l)
        except ValueError:
            continue
        if isinstance(rec, dict) and "trainable_params" in rec and "params" not in info:
            info["params"] = rec["trainable_params"]
        if isinstance(rec, dict) and "steps_per_epoch" in rec:
            info.update(steps=rec["steps_per_epoch"], batch=rec.get("batch_size"), device=rec.get("device", "?"),
                        train_images=rec.get("train_images"))
    evals = {e["epoch"]: e for e in recs if e["kind"] == "eval"}
    epochs, prev_step, train_s, images = [], 0, 0.0, 0
    for e in sorted((e for e in recs if e["kind"] == "epoch"), key=lambda e: e["epoch"]):
        secs = e["images"] / e["img_per_s"]  # the epoch's training loop: Images / img_per_s
        n = min(e["images"], (e["step"] - prev_step) * info.get("batch", 0)) if info.get("batch") else e["images"]
        prev_step, train_s, images = e["step"], train_s + secs, images + n
        ev = evals.get(e["epoch"])
        epochs.append({"epoch": e["epoch"], "loop_start": go_time(e["time"]) - secs, "loss": e.get("loss"),
                       "top1": ev and ev["top1"], "at": ev and go_time(ev["time"]) - span["start"]})
    return summarise(span, epochs, train_s, images, info)


def torch_run(r):
    span = json.load(open(f"{where}/torch.{r}.span"))
    recs = lines(f"{where}/torch.{r}.jsonl")
    model = next(x for x in recs if x["kind"] == "model")
    tr = next(x for x in recs if x["kind"] == "training")
    info = {"params": model["trainable_params"], "steps": tr["steps_per_epoch"], "batch": tr["batch_size"],
            "torch": model["torch"], "train_images": tr["train_images"], "test_images": tr["test_images"]}
    evals = {e["epoch"]: e for e in recs if e["kind"] == "eval"}
    epochs, train_s, images = [], 0.0, 0
    for e in sorted((e for e in recs if e["kind"] == "epoch"), key=lambda e: e["epoch"]):
        train_s, images = train_s + e["train_s"], images + e["images"]
        ev = evals.get(e["epoch"])
        epochs.append({"epoch": e["epoch"], "loop_start": e["time"] - e["train_s"], "loss": e["loss"],
                       "top1": ev and ev["top1"], "at": ev and ev["time"] - span["start"]})
    return summarise(span, epochs, train_s, images, info)


def summarise(span, epochs, train_s, images, info):
    if not epochs:
        sys.exit(f"{where}: a run recorded no epoch")
    hit = next((e for e in epochs if e["top1"] is not None and e["top1"] >= target), None)
    accs = [e["top1"] for e in epochs if e["top1"] is not None]
    return {"epochs": epochs, "info": info, "wall": span["end"] - span["start"], "others": span.get("others"), "cpu": span["cpu_s"] / (span["end"] - span["start"]),
            "setup": epochs[0]["loop_start"] - span["start"], "train": train_s, "img_per_s": images / train_s,
            "to_target": hit and hit["at"], "target_epoch": hit and hit["epoch"],
            "final": accs[-1] if accs else None, "best": max(accs) if accs else None}


go = [resnext_run(r) for r in range(rounds)]
th = [torch_run(r) for r in range(rounds)]
gi, ti = go[0]["info"], th[0]["info"]
print(f"resnext: {gi.get('device', '?')}; torch {ti['torch']}; {threads} threads each")
print(f"recipe {config}, data {data_dir or '(the embedded sample)'}: {ti['train_images']} training and "
      f"{ti['test_images']} test images, batch {ti['batch']}, {ti['steps']} steps per epoch")
params = f"{gi.get('params', '?')} (resnext) and {ti['params']} (torch)"
if gi.get("params") == ti["params"]:
    params = f"{ti['params']} on both sides"
print(f"trainable parameters: {params}")
if gi.get("steps") not in (None, ti["steps"]):
    print(f"WARNING: resnext ran {gi['steps']} steps per epoch, torch {ti['steps']}")
print(f"{rounds} round(s); every figure is the median over the rounds" if rounds > 1 else "1 round", end="")
others = [x["others"] for x in go + th if x["others"] is not None]
if others:
    share = f"{100 * min(others):.0f}%" + ("" if len(others) == 1 or round(100 * min(others)) == round(100 * max(others)) else f" to {100 * max(others):.0f}%")
    print(f"; other work took {share} of the CPUs during the runs", end="")
print()
if others and max(others) > 0.1:
    print("NOTE: the machine was busy (other processes, or the hypervisor's steal time); PyTorch's OpenMP threads"
          " slow down badly on shared cores, so the times may be inflated: rerun on a quiet machine, or with --rounds")
print()


def fmt(v, f, unit=""):
    return "-" if v is None else f % v + unit


def medof(vals):
    vals = [v for v in vals if v is not None]
    return med(vals) if vals else None


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


n_epochs = max(len(x["epochs"]) for x in go + th)
print(f"{'':>5}  {'resnext':^29}  {'torch':^29}")
print(f"{'epoch':>5}  {'loss':>7} {'top-1':>7} {'at (s)':>13}  {'loss':>7} {'top-1':>7} {'at (s)':>13}  {'time resnext/torch':>18}")
for i in range(n_epochs):
    def col(runs, key):
        return medof([x["epochs"][i][key] if i < len(x["epochs"]) else None for x in runs])
    rs = medof([ratio(g["epochs"][i]["at"], t["epochs"][i]["at"]) if i < len(g["epochs"]) and i < len(t["epochs"]) else None
                for g, t in zip(go, th)])
    def side(runs):
        top1 = col(runs, "top1")
        return (f"{fmt(col(runs, 'loss'), '%.4f'):>7} {fmt(top1 if top1 is None else 100 * top1, '%.2f', '%'):>7}"
                f" {fmt(col(runs, 'at'), '%.1f'):>13}")
    print(f"{i + 1:>5}  {side(go)}  {side(th)}  {fmt(rs, '%.3f', 'x'):>18}")
print()

figures = [
    (f"time to {100 * target:g}% top-1 (s)", "to_target", "%.1f", "lower is better"),
    ("final top-1 (%)", "final", "%.2f", "higher is better"),
    ("best top-1 (%)", "best", "%.2f", "higher is better"),
    ("total wall time (s)", "wall", "%.1f", "process start to exit"),
    ("training time (s)", "train", "%.1f", "training loops only"),
    ("setup (s)", "setup", "%.1f", "process start to the first step"),
    ("images/s", "img_per_s", "%.0f", "training loops; higher is better"),
    ("CPU use (cores)", "cpu", "%.2f", "CPU time / wall time"),
    ("others' CPU share (%)", "others", "%.0f", "other processes and steal during the run"),
]
print(f"{'figure':<26} {'resnext':>10} {'torch':>10} {'resnext/torch':>14}")
for name, key, f, note in figures:
    scale = 100 if "%)" in name else 1
    a = [x[key] * scale if x[key] is not None else None for x in go]
    b = [x[key] * scale if x[key] is not None else None for x in th]
    r = None if key == "others" else medof([ratio(x, y) for x, y in zip(a, b)])
    extra = note
    if key == "to_target":
        ge, te = medof([x["target_epoch"] for x in go]), medof([x["target_epoch"] for x in th])
        reach = lambda runs: sum(x["to_target"] is not None for x in runs)
        extra = f"epoch {fmt(ge, '%g')} and {fmt(te, '%g')}"
        if rounds > 1:
            extra += f"; reached in {reach(go)} and {reach(th)} of {rounds} rounds"
        if medof(a) is None or medof(b) is None:
            extra += "; - : not reached"
    print(f"{name:<26} {fmt(medof(a), f):>10} {fmt(medof(b), f):>10} {fmt(r, '%.3f', 'x'):>14}  ({extra})")
PY

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $((SECONDS - start)) s in all"
$py "$tmp/report.py" "$tmp" "$rounds" "$target" "$config" "$data_dir" "$threads"
