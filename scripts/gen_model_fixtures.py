#!/usr/bin/env python3
"""Generate the whole-model parity fixtures that resnext/parity_test.go checks.

Run it with Debian's PyTorch, torchvision and protobuf (the system interpreter, not a pyenv or
virtualenv one):
    apt-get install python3-torch python3-torchvision python3-protobuf
    /usr/bin/python3 scripts/gen_model_fixtures.py

The model is a tiny ResNeXt in torchvision's own classes: torchvision.models.resnet.ResNet with its
Bottleneck, forward and _make_layer, groups 2 and width_per_group 16, with the stem and stages
rebuilt for 8 planes (conv1 7x7/2 pad 3 to 8 channels, bn1, relu, maxpool 3x3/2 pad 1; layer1..4 of
8, 16, 32, 64 planes, 3x3 widths 4, 8, 16, 32, expansion 4, so 256 features; fc to 10 classes).
layer1 has two blocks, so an identity block is in too. Convolutions are drawn as torchvision's
ResNet draws them (Kaiming normal, fan_out), the batch norms' gamma and beta at random, and the
running statistics are the averages of three training-mode forwards on random data; then the model
goes to eval mode.

Every float parameter and statistic, and the input, is rounded to float16 and the files store them
as float16, which halves the fixtures (the weights are the same numbers in every file and the Go
loader converts them exactly to float32). The references are computed in float64 from these values.

It writes into resnext/testdata/:
    tiny_torchvision.pth          torch.save(model.state_dict()) (torchvision names, with
                                  num_batches_tracked)
    tiny_torchvision.safetensors  the same state dict, metadata format=pt
    tiny_mindcv.ckpt              the same weights with MindCV's names in a MindSpore checkpoint
                                  (scripts/fixturelib.py's protobuf encoder), classifier.weight and
                                  layer4.0.conv3.weight split into slices, plus a global_step entry
    tiny_expected.safetensors     x [2, 3, 64, 64]; logits_symmetric, the torchvision model's eval
                                  output; logits_same, the same weights with MindCV's "same" max
                                  pool (ceil(in/stride) outputs, odd padding at the bottom/right)
The output is deterministic; a file whose bytes did not change is not rewritten.
"""
import copy
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import Bottleneck, ResNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

OUT = os.path.join(fixturelib.ROOT, "resnext", "testdata")

PLANES = 8
BLOCKS = [2, 1, 1, 1]
GROUPS = 2
WIDTH_PER_GROUP = 16
CLASSES = 10
X_SHAPE = (2, 3, 64, 64)
STORE = torch.float16  # the dtype of the weights and the input in the files


def tiny_resnext():
    """torchvision's ResNet with the tiny stem and stages, built by its own _make_layer."""
    m = ResNet(Bottleneck, BLOCKS, num_classes=CLASSES, groups=GROUPS, width_per_group=WIDTH_PER_GROUP)
    m.inplanes = PLANES
    m.conv1 = nn.Conv2d(3, PLANES, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(PLANES)
    m.layer1 = m._make_layer(Bottleneck, PLANES, BLOCKS[0])
    m.layer2 = m._make_layer(Bottleneck, 2 * PLANES, BLOCKS[1], stride=2)
    m.layer3 = m._make_layer(Bottleneck, 4 * PLANES, BLOCKS[2], stride=2)
    m.layer4 = m._make_layer(Bottleneck, 8 * PLANES, BLOCKS[3], stride=2)
    m.fc = nn.Linear(8 * PLANES * Bottleneck.expansion, CLASSES)
    assert isinstance(m.maxpool, nn.MaxPool2d) and m.maxpool.padding == 1
    return m


def same_padding(n, k, s):
    """MindSpore's pad_mode "same" for one dimension: (before, after)."""
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class SameMaxPool(nn.Module):
    """MindCV's stem max pool: 3x3, stride 2, pad_mode "same"."""

    def forward(self, x):
        top, bottom = same_padding(x.shape[2], 3, 2)
        left, right = same_padding(x.shape[3], 3, 2)
        return F.max_pool2d(F.pad(x, (left, right, top, bottom), value=-math.inf), 3, 2)


def build():
    torch.manual_seed(0)
    m = tiny_resnext()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.num_features, generator=g) * 0.2)
                mod.momentum = None  # running statistics: the plain average of the batches
        m.train()
        for _ in range(3):
            m(torch.randn(4, *X_SHAPE[1:], generator=g) * 1.5 + 0.2)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.momentum = 0.1
        for t in m.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.to(STORE).float())
    return m.eval()


def stored(sd):
    """The state dict as the files hold it: floats in STORE, num_batches_tracked as they are."""
    return {k: (t.to(STORE) if t.is_floating_point() else t) for k, t in sd.items()}


def main():
    if not torch.__version__.startswith("1.13"):
        print(f"warning: torch {torch.__version__}; the fixtures were made with Debian's torch 1.13", file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    m = build()
    sd = m.state_dict()
    x = torch.randn(*X_SHAPE, generator=torch.Generator().manual_seed(2)).to(STORE)

    # The references, in float64 from the stored values.
    ref = copy.deepcopy(m).double().eval()
    with torch.no_grad():
        logits_symmetric = ref(x.double())
        ref.maxpool = SameMaxPool()
        logits_same = ref(x.double())
    gap = (logits_same - logits_symmetric).abs().max().item()
    scale = logits_symmetric.abs().max().item()
    if gap <= 1e-2 * (1 + scale):
        sys.exit(f"the two poolings give nearly the same logits ({gap}): the test would not tell them apart")
    # torchvision's model itself, in float32, agrees with the float64 reference.
    with torch.no_grad():
        f32 = m(x.float()).double()
    assert (f32 - logits_symmetric).abs().max().item() <= 1e-5 * (1 + scale)

    data = stored(sd)
    fixturelib.write_if_changed(
        os.path.join(OUT, "tiny_torchvision.pth"), fixturelib.torch_save_bytes("tiny_torchvision.pth", data)
    )
    fixturelib.write_if_changed(
        os.path.join(OUT, "tiny_torchvision.safetensors"), fixturelib.encode_safetensors(data, {"format": "pt"})
    )

    slices = {"classifier.weight": 3, "layer4.0.conv3.weight": 2}
    entries = []
    for k, t in data.items():
        name = fixturelib.mindcv_name(k)
        if name is not None:
            entries.append(fixturelib.tensor_entry(name, t, slices.get(name, 1)))
    assert sorted(e[0] for e in entries if isinstance(e[3], list)) == sorted(slices)
    entries.append(("global_step", "Int32", [1], (1234).to_bytes(4, "little")))
    fixturelib.write_if_changed(os.path.join(OUT, "tiny_mindcv.ckpt"), fixturelib.encode_ckpt(entries))

    config = {
        "blocks": BLOCKS,
        "groups": GROUPS,
        "base_width": WIDTH_PER_GROUP,
        "planes": PLANES,
        "num_classes": CLASSES,
        "in_channels": X_SHAPE[1],
    }
    meta = {
        "generator": "scripts/gen_model_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "config": json.dumps(config, separators=(",", ":"), sort_keys=True),
    }
    expected = {"x": x, "logits_symmetric": logits_symmetric.float(), "logits_same": logits_same.float()}
    fixturelib.write_if_changed(
        os.path.join(OUT, "tiny_expected.safetensors"), fixturelib.encode_safetensors(expected, meta)
    )
    print(f"max |logits| {scale:.4g}; max |same - symmetric| {gap:.4g}")
    fixturelib.report(limit=600_000)


if __name__ == "__main__":
    main()
