#!/usr/bin/env bash
# Full-size parity with torchvision through the command line: resnext50_32x4d's logits from
# `resnext predict` against torchvision's, for the same random weights in every format.
#
#   apt-get install python3-torch python3-torchvision python3-protobuf
#   scripts/compare_torchvision.sh [seed]          # seed: default 0
#
# With Debian's PyTorch (/usr/bin/python3) it makes a seeded, randomly initialised
# torchvision.models.resnext50_32x4d (batch norms with random gamma and beta, and running
# statistics averaged over a few training-mode forwards on random data), puts it in eval mode and
# writes, in a temporary folder:
#   tv.pth          torch.save(model.state_dict())
#   tv.safetensors  the same state dict by hand (scripts/fixturelib.py), metadata format=pt
#   mindcv.ckpt     the same weights with MindCV's names in a MindSpore checkpoint
#                   (scripts/fixturelib.py's protobuf encoder), every tensor over 1 MiB in 3 slices
#   x.npy           a random batch [2, 3, 224, 224]
# and the references, computed in float64: torchvision's logits (symmetric max pool) and the logits
# of the same weights with MindCV's "same" max pool. It also converts tv.pth to conv.ckpt with
# `resnext convert`. Then `resnext predict --input x.npy` runs on every weight file, with the
# max-pool padding chosen from the file (torchvision names: symmetric; MindCV names: same; the
# converted file records symmetric), and the logits are compared with the right reference.
#
# Prints a table: max |got - want|, the relative error max |got - want| / max |want|, and the
# padding predict chose. Exits non-zero when any relative error is above 1e-4, a padding is not
# the expected one, the converted file's logits differ from the .pth's, or a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
py=/usr/bin/python3
if ! $py -c 'import torch, torchvision, google.protobuf, numpy' 2>/dev/null; then
	echo "needs Debian's PyTorch, torchvision and protobuf: apt-get install python3-torch python3-torchvision python3-protobuf" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=$(nproc)

echo "== build"
go build -o "$tmp/resnext" ./cmd/resnext

echo "== torchvision: weights, input and references (seed $seed)"
start=$SECONDS
$py - "$tmp" "$seed" "$threads" "$PWD/scripts" <<'PY'
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

tmp, seed, threads, scripts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, scripts)
import fixturelib  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(seed)
g = torch.Generator().manual_seed(seed + 1)
m = torchvision.models.resnext50_32x4d()
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.bias.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.momentum = None  # running statistics: the average over the batches below
    m.train()
    for _ in range(3):
        m(torch.randn(4, 3, 224, 224, generator=g))
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = 0.1
m.eval()
sd = m.state_dict()

torch.save(sd, os.path.join(tmp, "tv.pth"))
with open(os.path.join(tmp, "tv.safetensors"), "wb") as f:
    f.write(fixturelib.encode_safetensors(sd, {"format": "pt"}))
entries = []
for k, t in sd.items():
    name = fixturelib.mindcv_name(k)
    if name is not None:
        entries.append(fixturelib.tensor_entry(name, t, 3 if t.numel() * t.element_size() > 1 << 20 else 1))
with open(os.path.join(tmp, "mindcv.ckpt"), "wb") as f:
    f.write(fixturelib.encode_ckpt(entries))
print(f"{len(sd)} tensors in the state dict; {sum(isinstance(e[3], list) for e in entries)} of {len(entries)} "
      f"sliced in mindcv.ckpt")

x = torch.randn(2, 3, 224, 224, generator=g)
np.save(os.path.join(tmp, "x.npy"), x.numpy().astype("<f4"))


def same_pad(n, k=3, s=2):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class SameMaxPool(nn.Module):
    """MindCV's stem max pool: 3x3, stride 2, pad_mode "same" (odd padding at the bottom/right)."""

    def forward(self, t):
        top, bottom = same_pad(t.shape[2])
        left, right = same_pad(t.shape[3])
        return F.max_pool2d(F.pad(t, (left, right, top, bottom), value=-math.inf), 3, 2)


with torch.no_grad():
    np.save(os.path.join(tmp, "torch_f32.npy"), m(x).numpy())
    ref = m.double()
    np.save(os.path.join(tmp, "want_symmetric.npy"), ref(x.double()).numpy())
    ref.maxpool = SameMaxPool()
    np.save(os.path.join(tmp, "want_same.npy"), ref(x.double()).numpy())
PY
echo "   $((SECONDS - start)) s"

echo "== resnext convert tv.pth conv.ckpt"
"$tmp/resnext" convert "$tmp/tv.pth" "$tmp/conv.ckpt" --log_format json 2>"$tmp/convert.log" ||
	{ cat "$tmp/convert.log" >&2; exit 1; }

runs=""
for w in tv.pth tv.safetensors mindcv.ckpt conv.ckpt; do
	echo "== resnext predict --ckpt_path $w"
	start=$SECONDS
	if ! "$tmp/resnext" predict --model resnext50_32x4d --ckpt_path "$tmp/$w" --input "$tmp/x.npy" \
		--output "$tmp/y_$w.npy" --log_format json 2>"$tmp/predict_$w.log"; then
		cat "$tmp/predict_$w.log" >&2
		exit 1
	fi
	echo "   $((SECONDS - start)) s"
	runs="$runs $w"
done

echo
$py - "$tmp" $runs <<'PY'
import json
import sys

import numpy as np

tmp, runs = sys.argv[1], sys.argv[2:]
want = {p: np.load(f"{tmp}/want_{p}.npy") for p in ("symmetric", "same")}
expect = {"tv.pth": "symmetric", "tv.safetensors": "symmetric", "mindcv.ckpt": "same", "conv.ckpt": "symmetric"}
LIMIT = 1e-4


def padding(run):
    """The max-pool padding predict chose, from its JSON log."""
    with open(f"{tmp}/predict_{run}.log") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "pool_padding" in rec:
                return rec["pool_padding"].split('"')[1]
    return "?"


def errors(got, ref):
    d = float(np.abs(got.astype(np.float64) - ref).max())
    return d, d / float(np.abs(ref).max())


rows, failed = [], []
d, r = errors(np.load(f"{tmp}/torch_f32.npy"), want["symmetric"])
rows.append(("torchvision float32 (baseline)", "symmetric", "symmetric", d, r, ""))
got = {}
for run in runs:
    got[run] = np.load(f"{tmp}/y_{run}.npy")
    pad = padding(run)
    ref = expect[run]
    d, r = errors(got[run], want[ref])
    ok = r <= LIMIT and pad == ref and got[run].shape == want[ref].shape
    rows.append((f"predict {run}", pad, ref, d, r, "ok" if ok else "FAIL"))
    if not ok:
        failed.append(run)
if "conv.ckpt" in got and "tv.pth" in got:
    d = float(np.abs(got["conv.ckpt"] - got["tv.pth"]).max())
    ok = d == 0
    rows.append(("conv.ckpt vs tv.pth logits", "", "", d, d / float(np.abs(got["tv.pth"]).max()), "ok" if ok else "FAIL"))
    if not ok:
        failed.append("convert")
d, r = errors(want["same"], want["symmetric"])
rows.append(("same vs symmetric reference", "", "", d, r, "(must be large)"))
if r < 1e-2:
    failed.append("references too close to tell the paddings apart")

print(f"{'weights':32s} {'padding':10s} {'reference':10s} {'max abs':>10s} {'relative':>10s}")
for name, pad, ref, d, r, verdict in rows:
    print(f"{name:32s} {pad:10s} {ref:10s} {d:10.3g} {r:10.3g}  {verdict}")
print(f"max |logits|: {float(np.abs(want['symmetric']).max()):.4g} (symmetric), "
      f"{float(np.abs(want['same']).max()):.4g} (same); limit {LIMIT:g} relative")
if failed:
    sys.exit("FAILED: " + ", ".join(failed))
print("all match")
PY
