#!/usr/bin/env python3
"""Generate the PyTorch checkpoints that ckpt/torch's tests read, and the values they must decode to.

Run it with Debian's PyTorch (the system interpreter, not a pyenv or virtualenv one):
    apt-get install python3-torch
    /usr/bin/python3 scripts/gen_torch_fixtures.py

It writes, from the repository root, into ckpt/torch/testdata/:
    dtypes.pth            an OrderedDict with one tensor of every supported dtype, special values,
                          an empty tensor and a 0-d scalar
    views.pth             a plain dict of views: transposed and permuted tensors, slices of one shared
                          storage at several offsets and strides, an expanded (stride 0) tensor,
                          0-d scalars (one a view into the shared storage)
    resnext.pth           model.state_dict() of a torchvision-style ResNeXt fragment (conv1, bn1,
                          layer1.0 with its downsample, fc), after two training-mode forwards so the
                          BatchNorm running statistics and num_batches_tracked are not the defaults
    nested_state_dict.pth {"epoch", "arch", "state_dict", "optimizer", ...} as training scripts save it
    nested_model.pth      {"model": state dict, "epoch": ...}
    parameters.pth        dict(model.named_parameters()): nn.Parameter objects
    protocol4.pth         the state dict pickled with protocol 4 (frames, memoize, stack globals)
    legacy.pth            the state dict in the pre-1.6 format (_use_new_zipfile_serialization=False)
    disallowed.pth        a checkpoint holding an argparse.Namespace: the reader must refuse it
    expected.safetensors  the expected tensors, named "<fixture>/<tensor name>", in C order; its
                          __metadata__ maps "order/<fixture>" to the JSON list of the names in file order

The safetensors file is written by hand (struct + json: scripts/fixturelib.py), in the reference
layout (tensors by decreasing element size, then by name). The zip checkpoints are deterministic
(storage keys are 0, 1, ...); legacy.pth names its storages by memory address, so it is rewritten only
when its content changes. A file whose bytes did not change is not rewritten.
"""
import argparse
import collections
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402
from fixturelib import tensor_bytes, torch_save_bytes  # noqa: E402

ROOT = fixturelib.ROOT
OUT = os.path.join(ROOT, "ckpt", "torch", "testdata")


def write_bytes(name, data):
    fixturelib.write_if_changed(os.path.join(OUT, name), data)


EXPECTED = {}
ORDER = {}


def same_state_dict(path, state_dict):
    """Whether the checkpoint at path already holds exactly state_dict (names, order, dtypes, values)."""
    try:
        old = torch.load(path)
    except Exception:
        return False
    if list(old.keys()) != list(state_dict.keys()):
        return False
    for k, t in state_dict.items():
        o = old[k]
        if o.dtype != t.dtype or o.shape != t.shape or tensor_bytes(o) != tensor_bytes(t):
            return False
    return True


def fixture(name, obj, state_dict, **kwargs):
    """Save obj as name and record state_dict (an ordered mapping of name -> tensor) as its expected content."""
    if kwargs.get("_use_new_zipfile_serialization") is False and same_state_dict(os.path.join(OUT, name), state_dict):
        # The legacy format names storages by memory address: keep the file while its content is the same.
        fixturelib.keep(os.path.join(OUT, name))
    else:
        write_bytes(name, torch_save_bytes(name, obj, **kwargs))
    if state_dict is None:
        return
    stem = name.rsplit(".", 1)[0]
    ORDER["order/" + stem] = json.dumps(list(state_dict.keys()))
    for k, t in state_dict.items():
        EXPECTED[f"{stem}/{k}"] = t.detach().contiguous().clone()


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# the fixtures


def dtypes():
    g = gen(1)
    f32 = torch.randn(2, 3, generator=g)
    f32[0, 0], f32[0, 1], f32[0, 2] = float("inf"), float("-0.0"), float("nan")
    sd = collections.OrderedDict()
    sd["f32"] = f32
    sd["f16"] = torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16)
    sd["bf16"] = torch.randn(2, 2, generator=g).to(torch.bfloat16)
    sd["f64"] = torch.tensor([3.141592653589793, -1e300, 5e-324], dtype=torch.float64)
    sd["i64"] = torch.tensor([[-(2**63), 2**63 - 1], [0, -1]], dtype=torch.int64)
    sd["i32"] = torch.tensor([-(2**31), 2**31 - 1, 42], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, -2], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0, -1], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([[True, False, True], [False, False, True]])
    sd["empty"] = torch.zeros(0, 3)
    sd["scalar_f32"] = torch.tensor(2.5)
    fixture("dtypes.pth", sd, sd)


def views():
    g = gen(2)
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3.0
    a = torch.randn(3, 4, generator=g)
    nchw = torch.randn(2, 3, 4, 5, generator=g)
    sd = {
        "transposed": a.t(),
        "permuted": nchw.permute(0, 2, 3, 1),
        "base": base,
        "slice": base[4:10],
        "block": base[10:22].view(3, 4),
        "strided": base.view(4, 6)[:, 1:5:2],
        "column": base.view(4, 6)[:, 5],
        "scalar_view": base[5],
        "expanded": torch.arange(3, dtype=torch.float32).view(3, 1).expand(3, 4),
        "num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "i64_transposed": torch.arange(6, dtype=torch.int64).view(2, 3).t(),
    }
    assert not sd["transposed"].is_contiguous() and not sd["strided"].is_contiguous()
    assert sd["slice"].storage_offset() == 4 and sd["scalar_view"].dim() == 0
    fixture("views.pth", sd, sd)


class Bottleneck(nn.Module):
    """A torchvision Bottleneck, small: 1x1, grouped 3x3, 1x1, and a downsample."""

    def __init__(self, inplanes, width, out, groups, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + self.downsample(x))


class TinyResNeXt(nn.Module):
    """The names of torchvision's resnext50_32x4d with tiny shapes and one block."""

    def __init__(self, num_classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Bottleneck(8, 8, 16, groups=4, stride=1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tiny_model():
    torch.manual_seed(3)
    m = TinyResNeXt()
    m.train()
    g = gen(4)
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(2, 3, 8, 8, generator=g))
    return m


def resnext():
    m = tiny_model()
    sd = m.state_dict()
    assert "layer1.0.downsample.0.weight" in sd and "bn1.num_batches_tracked" in sd
    assert int(sd["bn1.num_batches_tracked"]) == 2
    fixture("resnext.pth", sd, sd)
    fixture("protocol4.pth", sd, sd, pickle_protocol=4)
    fixture("legacy.pth", sd, sd, _use_new_zipfile_serialization=False)

    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    m(torch.randn(2, 3, 8, 8, generator=gen(5))).sum().backward()
    opt.step()
    sd = m.state_dict()
    ckpt = {
        "epoch": 3,
        "arch": "resnext_tiny",
        "state_dict": sd,
        "optimizer": opt.state_dict(),
        "best_acc1": 0.625,
        "flags": (True, False, None),
        "big": 2**70,
        "neg": [-5, -300, -70000, -(2**40)],
    }
    fixture("nested_state_dict.pth", ckpt, sd)
    fixture("nested_model.pth", {"model": sd, "epoch": 1}, sd)

    params = dict(m.named_parameters())
    fixture("parameters.pth", params, params)

    ns = argparse.Namespace(lr=0.1, model="resnext50_32x4d")
    fixture("disallowed.pth", {"state_dict": sd, "args": ns}, None)


def main():
    if not torch.__version__.startswith("1.13"):
        print(f"warning: torch {torch.__version__}; the fixtures were made with Debian's torch 1.13", file=sys.stderr)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    dtypes()
    views()
    resnext()
    meta = dict(ORDER, generator="scripts/gen_torch_fixtures.py", torch=torch.__version__.split("+")[0])
    write_bytes("expected.safetensors", fixturelib.encode_safetensors(EXPECTED, meta))
    fixturelib.report(limit=200_000)


if __name__ == "__main__":
    main()
