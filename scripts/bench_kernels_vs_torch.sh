#!/usr/bin/env bash
# The CPU backend's kernels side by side with PyTorch on the same machine, in one run: SGEMM
# (C = A @ B, row-major float32) on squares of 256 to 2048 and on the 1x1 convolutions of
# ResNeXt-50 at batch 16 as single GEMMs (SGEMM/M<out channels>_K<in channels>_N<16*H*W>, the
# shapes of BenchmarkSGEMM in ops/cpu/gemm_test.go), and every distinct convolution of ResNeXt-50
# 32x4d at batch 8 on 224x224 images (BenchmarkConv2dResNeXt50 in ops/cpu/conv_test.go: the stem,
# each stage's 1x1, grouped 3x3 and down-sampling layers, the name's .xN counting the layers of that
# shape), each as forward, input gradient (data) and weight gradient (filter). Prints the median
# GFLOP/s of each side over count rounds and the ratio resnext/torch, then the time all the
# network's convolutions take per pass (the sum over layers of count x median ms). torch.mm runs
# on OpenBLAS here, torch's convolutions on oneDNN.
#
#   apt-get install python3-torch libopenblas0-pthread   # Debian's PyTorch 1.13 with OpenBLAS
#   scripts/bench_kernels_vs_torch.sh [count]            # count: rounds (default 5)
#
# Each round runs every Go benchmark once (at least 0.5s each) and then every PyTorch one (at
# least 0.5s each), so that both sides see the same machine when its speed drifts, as
# shared virtual machines' does. Both sides use every core (torch.set_num_threads(nproc));
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the PyTorch side only, so OpenBLAS picks
# its own kernel for this CPU. RESNEXT_CPU_KERNEL (avx512, avx2, go) chooses the Go side's SGEMM
# micro-kernel; by default it is the fastest this CPU runs.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
threads=$(nproc)
py=/usr/bin/python3
if ! $py -c 'import torch' 2>/dev/null; then
	echo "PyTorch is missing: apt-get install python3-torch libopenblas0-pthread" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/cpu.test" ./ops/cpu/
cat >"$tmp/bench.py" <<'PY'
import sys, time
import torch
threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)

def rate(fn, flops, min_time=0.5):
    """GFLOP/s and ms per call of fn, after one untimed call."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn(); n += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
    return f"{flops * n / dt / 1e9:.2f} {dt / n * 1e3:.3f}"

# name, M, K, N: the shapes of BenchmarkSGEMM.
gemms = [(str(s), s, s, s) for s in (256, 512, 1024, 2048)] + [
    (f"M{m}_K{k}_N{n}", m, k, n) for m, k, n in (
        (256, 64, 50176), (128, 256, 50176), (256, 512, 12544),
        (512, 1024, 3136), (2048, 1024, 784), (1024, 2048, 784))]
for name, m, k, n in gemms:
    a, b = torch.randn(m, k), torch.randn(k, n)
    c = torch.empty(m, n)
    print(f"SGEMM/{name} {rate(lambda: torch.mm(a, b, out=c), 2 * m * k * n)}")
    del a, b, c

# The layers of resnext50Convs in ops/cpu/conv_test.go: name, in, out, input size, kernel,
# stride, padding, groups, count.
convs = [("stem", 3, 64, 224, 7, 2, 3, 1, 1)]
cin, hw = 64, 56
for stage, blocks in enumerate((3, 4, 6, 3)):
    width, out, stride = 128 << stage, 256 << stage, min(stage, 1) + 1
    name = lambda s: f"layer{stage + 1}.{s}"
    convs += [(name("0.conv1"), cin, width, hw, 1, 1, 0, 1, 1),
              (name("0.conv2"), width, width, hw, 3, stride, 1, 32, 1),
              (name("0.down_sample"), cin, out, hw, 1, stride, 0, 1, 1)]
    hw //= stride
    convs += [(name("0.conv3"), width, out, hw, 1, 1, 0, 1, blocks),
              (name("1.conv1"), out, width, hw, 1, 1, 0, 1, blocks - 1),
              (name("1.conv2"), width, width, hw, 3, 1, 1, 32, blocks - 1)]
    cin = out
for name, ci, co, size, k, s, p, g, count in convs:
    x = torch.randn(8, ci, size, size, requires_grad=True)
    w = torch.randn(co, ci // g, k, k, requires_grad=True)
    conv = lambda: torch.nn.functional.conv2d(x, w, stride=s, padding=p, groups=g)
    y = conv()
    dy = torch.randn_like(y)
    flops = 2 * y.numel() * ci // g * k * k
    with torch.no_grad():
        print(f"Conv2dResNeXt50/{name}.x{count}/forward {rate(conv, flops)}")
    print(f"Conv2dResNeXt50/{name}.x{count}/data {rate(lambda: torch.autograd.grad(y, x, dy, retain_graph=True), flops)}")
    print(f"Conv2dResNeXt50/{name}.x{count}/filter {rate(lambda: torch.autograd.grad(y, w, dy, retain_graph=True), flops)}")
    del x, w, y, dy
PY

# Lines "name GFLOP/s ms" from both sides, every round.
: >"$tmp/go" && : >"$tmp/torch"
for round in $(seq "$count"); do
	echo "round $round of $count" >&2
	(cd ops/cpu && "$tmp/cpu.test" -test.run '^$' -test.bench 'SGEMM|Conv2dResNeXt50' -test.benchtime 0.5s -test.count 1) |
		awk '/^Benchmark/ { name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name); rate = ""; ms = ""
			for (i = 1; i <= NF; i++) { if ($(i+1) == "GFLOP/s") rate = $i; if ($(i+1) == "ms/op") ms = $i }
			if (ms == "") ms = "-"
			print name, rate, ms }' >>"$tmp/go"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$tmp/bench.py" "$threads" >>"$tmp/torch"
done

# median FILE NAME [COLUMN]: the median of column COLUMN (default 2, the rate) of NAME in FILE.
median() {
	awk -v n="$2" -v c="${3:-2}" '$1 == n { print $c }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; torch $($py -c 'import torch; print(torch.__version__)'); $(
	cd ops/cpu && "$tmp/cpu.test" -test.run '^TestDevice$' -test.v 2>/dev/null | sed -n 's/.*device: //p')"
echo "medians of $count rounds"
printf '%-46s %12s %12s %8s\n' benchmark "resnext" "torch" ratio
: >"$tmp/totals"
awk '!seen[$1]++ { print $1 }' "$tmp/torch" | while read -r name; do
	go_rate=$(median "$tmp/go" "$name")
	torch_rate=$(median "$tmp/torch" "$name")
	printf '%-46s %7s GF/s %7s GF/s %7s\n' "$name" "${go_rate:-?}" "$torch_rate" \
		"$(awk -v a="${go_rate:-0}" -v b="$torch_rate" 'BEGIN { printf "%.2fx", a / b }')"
	case $name in Conv2dResNeXt50/*)
		count=${name#*.x}
		echo "${name##*/} ${count%%/*} $(median "$tmp/go" "$name" 3) $(median "$tmp/torch" "$name" 3)" >>"$tmp/totals" ;;
	esac
done
# The network's convolutions per pass: count x median ms, summed over the layers.
awk '{ go[$1] += $2 * $3; th[$1] += $2 * $4 }
	END { for (p in go) printf "all ResNeXt-50 convolutions, %-7s %9.1f ms %9.1f ms %7.2fx (batch 8; ratio torch/resnext time)\n", p, go[p], th[p], th[p] / go[p] }' \
	"$tmp/totals" | sort
