#!/usr/bin/env bash
# The CPU backend's kernels side by side with PyTorch on the same machine, in one run: SGEMM at
# 256/512/1024 and the grouped 3x3 convolution of a ResNeXt stage (x [8,128,28,28], groups 32,
# 4 channels per group), forward and backward. Prints GFLOP/s medians and the ratio resnext/torch.
#
#   apt-get install python3-torch libopenblas0-pthread   # Debian's PyTorch 1.13 with OpenBLAS
#   scripts/bench_kernels_vs_torch.sh [count]            # count: repetitions (default 5)
#
# Both sides use every core (torch.set_num_threads(nproc)). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# are unset for the PyTorch side only, so OpenBLAS picks its own kernel for this CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
threads=$(nproc)
py=/usr/bin/python3
if ! $py -c 'import torch' 2>/dev/null; then
	echo "PyTorch is missing: apt-get install python3-torch libopenblas0-pthread" >&2
	exit 1
fi

go_out=$(go test -run '^$' -bench 'SGEMM|Conv2dResNeXt' -count "$count" ./ops/cpu/)

torch_out=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py - "$count" "$threads" <<'PY'
import statistics, sys, time
import torch
count, threads = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)

def gflops(fn, flops, min_time=0.5):
    fn()
    rates = []
    for _ in range(count):
        n, t0 = 0, time.perf_counter()
        while True:
            fn(); n += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        rates.append(flops * n / dt / 1e9)
    return statistics.median(rates)

for s in (256, 512, 1024):
    a, b = torch.randn(s, s), torch.randn(s, s)
    print(f"SGEMM/{s} {gflops(lambda: torch.mm(a, b), 2 * s**3):.2f}")

x = torch.randn(8, 128, 28, 28, requires_grad=True)
w = torch.randn(128, 4, 3, 3, requires_grad=True)
flops = 2 * x.numel() * 4 * 9
conv = lambda: torch.nn.functional.conv2d(x, w, padding=1, groups=32)
print(f"Conv2dResNeXt/forward {gflops(lambda: conv().detach(), flops):.2f}")
y = conv()
dy = torch.randn_like(y)
print(f"Conv2dResNeXt/backward {gflops(lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True), 2 * flops):.2f}")
PY
)

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads cores; torch $($py -c 'import torch; print(torch.__version__)')"
printf '%-26s %12s %12s %8s\n' benchmark "resnext" "torch" ratio
while read -r name torch_rate; do
	go_rate=$(echo "$go_out" | awk -v n="Benchmark$name" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 1; i <= NF; i++) if ($(i+1) == "GFLOP/s") print $i }' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }')
	printf '%-26s %9s GF/s %7s GF/s %7s\n' "$name" "${go_rate:-?}" "$torch_rate" \
		"$(awk -v a="${go_rate:-0}" -v b="$torch_rate" 'BEGIN { printf "%.2fx", a / b }')"
done <<<"$torch_out"
