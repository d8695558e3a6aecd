#!/usr/bin/env bash
# The CPU backend's kernels side by side with PyTorch on the same machine, in one run: SGEMM
# (C = A @ B, row-major float32) on squares of 256 to 2048 and on the 1x1 convolutions of
# ResNeXt-50 at batch 16 as single GEMMs (SGEMM/M<out channels>_K<in channels>_N<16*H*W>, the
# shapes of BenchmarkSGEMM in ops/cpu/gemm_test.go), and the grouped 3x3 convolution of a ResNeXt
# stage (x [8,128,28,28], groups 32, 4 channels per group), forward and backward. Prints the
# median GFLOP/s of each side over count rounds and the ratio resnext/torch. torch.mm runs on
# OpenBLAS here.
#
#   apt-get install python3-torch libopenblas0-pthread   # Debian's PyTorch 1.13 with OpenBLAS
#   scripts/bench_kernels_vs_torch.sh [count]            # count: rounds (default 5)
#
# Each round runs every Go benchmark once (go test's default 1s each) and then every PyTorch
# one (at least 0.5s each), so that both sides see the same machine when its speed drifts, as
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

def gflops(fn, flops, min_time=0.5):
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn(); n += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
    return flops * n / dt / 1e9

# name, M, K, N: the shapes of BenchmarkSGEMM.
gemms = [(str(s), s, s, s) for s in (256, 512, 1024, 2048)] + [
    (f"M{m}_K{k}_N{n}", m, k, n) for m, k, n in (
        (256, 64, 50176), (128, 256, 50176), (256, 512, 12544),
        (512, 1024, 3136), (2048, 1024, 784), (1024, 2048, 784))]
for name, m, k, n in gemms:
    a, b = torch.randn(m, k), torch.randn(k, n)
    c = torch.empty(m, n)
    print(f"SGEMM/{name} {gflops(lambda: torch.mm(a, b, out=c), 2 * m * k * n):.2f}")
    del a, b, c

x = torch.randn(8, 128, 28, 28, requires_grad=True)
w = torch.randn(128, 4, 3, 3, requires_grad=True)
flops = 2 * x.numel() * 4 * 9
conv = lambda: torch.nn.functional.conv2d(x, w, padding=1, groups=32)
print(f"Conv2dResNeXt/forward {gflops(lambda: conv().detach(), flops):.2f}")
y = conv()
dy = torch.randn_like(y)
print(f"Conv2dResNeXt/backward {gflops(lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True), 2 * flops):.2f}")
PY

# Lines "name rate" from both sides, every round.
: >"$tmp/go" && : >"$tmp/torch"
for round in $(seq "$count"); do
	echo "round $round of $count" >&2
	(cd ops/cpu && "$tmp/cpu.test" -test.run '^$' -test.bench 'SGEMM|Conv2dResNeXt' -test.count 1) |
		awk '/^Benchmark/ { name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
			for (i = 1; i <= NF; i++) if ($(i+1) == "GFLOP/s") print name, $i }' >>"$tmp/go"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$tmp/bench.py" "$threads" >>"$tmp/torch"
done

# median FILE NAME: the median rate of NAME in FILE.
median() {
	awk -v n="$2" '$1 == n { print $2 }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; torch $($py -c 'import torch; print(torch.__version__)'); $(
	cd ops/cpu && "$tmp/cpu.test" -test.run '^TestDevice$' -test.v 2>/dev/null | sed -n 's/.*device: //p')"
echo "medians of $count rounds"
printf '%-26s %12s %12s %8s\n' benchmark "resnext" "torch" ratio
awk '!seen[$1]++ { print $1 }' "$tmp/torch" | while read -r name; do
	go_rate=$(median "$tmp/go" "$name")
	torch_rate=$(median "$tmp/torch" "$name")
	printf '%-26s %7s GF/s %7s GF/s %7s\n' "$name" "${go_rate:-?}" "$torch_rate" \
		"$(awk -v a="${go_rate:-0}" -v b="$torch_rate" 'BEGIN { printf "%.2fx", a / b }')"
done
