#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures that the Go tests compare against.

Run it with Debian's PyTorch (the system interpreter, not a pyenv or virtualenv one):
    apt-get install python3-torch
    /usr/bin/python3 scripts/gen_fixtures.py

It writes, from the repository root:
    ops/opstest/testdata/*.safetensors        one file per kernel family of ops.Backend
    resnext/testdata/bottleneck.safetensors   a ResNeXt bottleneck block, forward and backward
    ckpt/safetensors/testdata/python.safetensors   a sample of every dtype, for the codec's tests

The output is deterministic: every case draws its inputs from its own generator seeded by the case's
name, torch runs on one thread, and the safetensors files are written by hand (struct + json, no
safetensors package: scripts/fixturelib.py) in the reference layout: tensors ordered by decreasing
element size then by name, the JSON header padded with spaces to a multiple of 8 bytes. Running the
script twice gives byte-identical files; a file whose bytes did not change is not rewritten.

Inputs are float32. References are computed in float64 from those float32 inputs (the values torch
computes, without float32 rounding noise) and stored as float32. Each file's __metadata__ holds one
JSON string per case under "case/<name>" (the kernel as "op", and its attributes); the case's tensors are
named "<name>/<tensor>".
"""
import json
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

ROOT = fixturelib.ROOT


def save(relpath, tensors, metadata):
    """Write the safetensors file relpath (from the repository root), if its bytes changed."""
    fixturelib.write_if_changed(os.path.join(ROOT, relpath), fixturelib.encode_safetensors(tensors, metadata))


class Fixture:
    """The cases of one fixture file."""

    def __init__(self, relpath):
        self.relpath = relpath
        self.tensors = {}
        self.metadata = {"generator": "scripts/gen_fixtures.py", "torch": torch.__version__.split("+")[0]}

    def case(self, name, kernel, attrs, **tensors):
        if "/" in name or " " in name:
            raise SystemExit(f"{self.relpath}: case name {name!r}: no '/' or spaces (it names a Go subtest)")
        if "case/" + name in self.metadata:
            raise SystemExit(f"{self.relpath}: case {name} defined twice")
        if "op" in attrs:
            raise SystemExit(f"{self.relpath}: case {name}: attribute 'op' is reserved for the kernel's name")
        attrs = dict(attrs, op=kernel)
        self.metadata["case/" + name] = json.dumps(attrs, separators=(",", ":"), sort_keys=True)
        for k, t in tensors.items():
            self.tensors[f"{name}/{k}"] = t

    def save(self):
        save(self.relpath, self.tensors, self.metadata)


def gen(name):
    """A generator seeded by the case's name, so a case's data never depends on other cases."""
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def randn(g, *shape, mean=0.0, std=1.0):
    return (torch.randn(*shape, generator=g, dtype=torch.float32) * std + mean).float()


def uniform(g, lo, hi, *shape):
    return (torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).float()


def f32(t):
    return t.detach().float().contiguous()


def leaf(t):
    """A float64 leaf that requires grad, from float32 values."""
    return t.double().clone().requires_grad_(True)


# ---------------------------------------------------------------------------------------------
# ops/opstest fixtures


def conv2d():
    fx = Fixture("ops/opstest/testdata/conv2d.safetensors")
    # name, x shape, w shape, stride, pad, dilation, groups
    cases = [
        ("basic_3x3", (2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
        ("groups32_4ch", (2, 128, 5, 5), (128, 4, 3, 3), (1, 1), (1, 1), (1, 1), 32),
        ("groups32_2ch_stride2", (1, 64, 7, 7), (64, 2, 3, 3), (2, 2), (1, 1), (1, 1), 32),
        ("depthwise", (2, 8, 6, 6), (8, 1, 3, 3), (1, 1), (1, 1), (1, 1), 8),
        ("depthwise_multiplier2", (1, 4, 5, 5), (8, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4),
        ("stride2_3x3_odd", (2, 4, 7, 7), (6, 4, 3, 3), (2, 2), (1, 1), (1, 1), 1),
        ("stem_7x7_s2_p3", (2, 3, 15, 15), (8, 3, 7, 7), (2, 2), (3, 3), (1, 1), 1),
        ("pointwise", (2, 8, 4, 4), (6, 8, 1, 1), (1, 1), (0, 0), (1, 1), 1),
        ("pointwise_stride2", (2, 8, 9, 9), (16, 8, 1, 1), (2, 2), (0, 0), (1, 1), 1),
        ("dilation2", (2, 3, 9, 9), (4, 3, 3, 3), (1, 1), (2, 2), (2, 2), 1),
        ("asymmetric", (1, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
        ("batch1_no_pad", (1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1),
        ("kernel_larger_than_input", (1, 2, 4, 4), (2, 2, 7, 7), (2, 2), (3, 3), (1, 1), 1),
    ]
    for name, xs, ws, stride, pad, dil, groups in cases:
        g = gen("conv2d/" + name)
        x = randn(g, *xs)
        fan_in = ws[1] * ws[2] * ws[3]
        w = randn(g, *ws, std=(2.0 / fan_in) ** 0.5)
        xd, wd = leaf(x), leaf(w)
        y = F.conv2d(xd, wd, None, stride, pad, dil, groups)
        dy = randn(g, *y.shape)
        y.backward(dy.double())
        attrs = {"stride": list(stride), "pad": list(pad), "dilation": list(dil), "groups": groups}
        fx.case(name, "conv2d", attrs, x=x, w=w, y=f32(y), dy=dy, dx=f32(xd.grad), dw=f32(wd.grad))
    fx.save()


def batchnorm():
    fx = Fixture("ops/opstest/testdata/batchnorm.safetensors")
    # name, x shape, eps, momentum, mean and std of x
    train = [
        ("train_nchw", (4, 6, 5, 5), 1e-5, 0.1, 0.0, 1.0),
        ("train_nc", (8, 5), 1e-5, 0.1, 0.0, 1.0),
        ("train_batch1_odd", (1, 4, 3, 3), 1e-5, 0.1, 0.0, 1.0),
        ("train_offset_eps1e-3_momentum0.2", (2, 3, 4, 4), 1e-3, 0.2, 10.0, 2.0),
    ]
    for name, xs, eps, momentum, mean, std in train:
        g = gen("batchnorm/" + name)
        c = xs[1]
        x = randn(g, *xs, mean=mean, std=std)
        gamma = uniform(g, 0.5, 1.5, c)
        beta = randn(g, c, std=0.5)
        rmean = randn(g, c, std=0.5)
        rvar = uniform(g, 0.5, 2.0, c)
        xd, gd, bd = leaf(x), leaf(gamma), leaf(beta)
        rm, rv = rmean.double().clone(), rvar.double().clone()
        y = F.batch_norm(xd, rm, rv, gd, bd, training=True, momentum=momentum, eps=eps)
        dims = [0] + list(range(2, x.dim()))
        xm = x.double()
        save_mean = xm.mean(dim=dims)
        save_invstd = 1.0 / torch.sqrt(xm.var(dim=dims, unbiased=False) + eps)
        dy = randn(g, *y.shape)
        y.backward(dy.double())
        fx.case(
            name,
            "batchnorm_train",
            {"eps": eps, "momentum": momentum},
            x=x,
            gamma=gamma,
            beta=beta,
            running_mean=rmean,
            running_var=rvar,
            y=f32(y),
            save_mean=f32(save_mean),
            save_invstd=f32(save_invstd),
            running_mean_after=f32(rm),
            running_var_after=f32(rv),
            dy=dy,
            dx=f32(xd.grad),
            dgamma=f32(gd.grad),
            dbeta=f32(bd.grad),
        )
    for name, xs, eps in [("infer_nchw", (2, 5, 4, 3), 1e-5), ("infer_nc", (3, 7), 1e-3)]:
        g = gen("batchnorm/" + name)
        c = xs[1]
        x = randn(g, *xs, mean=0.5, std=2.0)
        gamma = uniform(g, 0.5, 1.5, c)
        beta = randn(g, c, std=0.5)
        mean = randn(g, c, std=0.5)
        var = uniform(g, 0.2, 3.0, c)
        y = F.batch_norm(x.double(), mean.double(), var.double(), gamma.double(), beta.double(), training=False, eps=eps)
        fx.case(name, "batchnorm_infer", {"eps": eps}, x=x, gamma=gamma, beta=beta, mean=mean, variance=var, y=f32(y))
    fx.save()


def relu():
    fx = Fixture("ops/opstest/testdata/relu.safetensors")
    for name, xs in [("nchw", (2, 3, 4, 5)), ("nc", (4, 6))]:
        g = gen("relu/" + name)
        x = randn(g, *xs)
        x.view(-1)[::7] = 0.0  # exact zeros: the output is 0 and so is the gradient
        xd = leaf(x)
        y = F.relu(xd)
        dy = randn(g, *xs)
        y.backward(dy.double())
        fx.case(name, "relu", {}, x=x, y=f32(y), dy=dy, dx=f32(xd.grad))
    fx.save()


def maxpool():
    fx = Fixture("ops/opstest/testdata/maxpool.safetensors")

    def same_pad(n, k, s):
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    # name, x shape, kernel, stride, padding (top, bottom, left, right) or "same", negative inputs
    cases = [
        ("torch_3x3_s2_p1_odd", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1), False),
        ("torch_3x3_s2_p1_even", (2, 3, 8, 8), (3, 3), (2, 2), (1, 1, 1, 1), False),
        ("torch_3x3_s2_p1_negative", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1), True),
        ("same_3x3_s2_even", (2, 3, 8, 8), (3, 3), (2, 2), "same", False),
        ("same_3x3_s2_odd", (2, 3, 9, 9), (3, 3), (2, 2), "same", False),
        ("same_3x3_s2_stem_like", (1, 2, 14, 14), (3, 3), (2, 2), "same", False),
        ("same_3x3_s2_negative", (1, 2, 6, 6), (3, 3), (2, 2), "same", True),
        ("same_3x3_s2_rect", (1, 2, 6, 9), (3, 3), (2, 2), "same", False),
        ("rect_3x2_s2x1_p1x0", (1, 2, 7, 5), (3, 2), (2, 1), (1, 1, 0, 0), False),
        ("k2_s2_no_pad", (2, 2, 6, 7), (2, 2), (2, 2), (0, 0, 0, 0), False),
    ]
    for name, xs, k, s, pad, negative in cases:
        g = gen("maxpool/" + name)
        x = randn(g, *xs)
        if negative:  # padding must act as -inf, never as 0
            x = -x.abs() - 1.0
        xd = leaf(x)
        if pad == "same":
            top, bottom = same_pad(xs[2], k[0], s[0])
            left, right = same_pad(xs[3], k[1], s[1])
            mode = "same"
            padded = F.pad(xd, (left, right, top, bottom), value=float("-inf"))
            y = F.max_pool2d(padded, k, s, 0)
        else:
            top, bottom, left, right = pad
            mode = "torch"
            assert top == bottom and left == right
            y = F.max_pool2d(xd, k, s, (top, left))
        dy = randn(g, *y.shape)
        y.backward(dy.double())
        attrs = {"kernel": list(k), "stride": list(s), "pad": [top, bottom, left, right], "mode": mode}
        fx.case(name, "maxpool2d", attrs, x=x, y=f32(y), dy=dy, dx=f32(xd.grad))
    fx.save()


def global_avg_pool():
    fx = Fixture("ops/opstest/testdata/global_avg_pool.safetensors")
    for name, xs in [("basic", (2, 5, 3, 4)), ("one_pixel", (3, 4, 1, 1)), ("head_7x7", (2, 16, 7, 7))]:
        g = gen("global_avg_pool/" + name)
        x = randn(g, *xs)
        xd = leaf(x)
        y = xd.mean(dim=(2, 3))
        dy = randn(g, *y.shape)
        y.backward(dy.double())
        fx.case(name, "global_avg_pool", {}, x=x, y=f32(y), dy=dy, dx=f32(xd.grad))
    fx.save()


def matmul():
    fx = Fixture("ops/opstest/testdata/matmul.safetensors")
    m, k, n = 5, 7, 3
    for ta in (False, True):
        for tb in (False, True):
            name = ("t" if ta else "n") + ("t" if tb else "n")
            g = gen("matmul/" + name)
            a = randn(g, *((k, m) if ta else (m, k)))
            b = randn(g, *((n, k) if tb else (k, n)))
            ad = a.double().t() if ta else a.double()
            bd = b.double().t() if tb else b.double()
            fx.case(name, "matmul", {"trans_a": ta, "trans_b": tb}, a=a, b=b, c=f32(ad @ bd))
    # A linear layer, as nn composes it: y = x @ w^T + bias; dx = dy @ w; dw = dy^T @ x; db = sum dy.
    for name, (batch, fin, fout) in [("linear", (4, 6, 3)), ("linear_batch1", (1, 9, 5))]:
        g = gen("matmul/" + name)
        x = randn(g, batch, fin)
        w = randn(g, fout, fin, std=fin ** -0.5)
        bias = randn(g, fout, std=0.1)
        xd, wd, bd = leaf(x), leaf(w), leaf(bias)
        y = F.linear(xd, wd, bd)
        dy = randn(g, *y.shape)
        y.backward(dy.double())
        fx.case(
            name, "linear", {}, x=x, w=w, bias=bias, y=f32(y), dy=dy, dx=f32(xd.grad), dw=f32(wd.grad), db=f32(bd.grad)
        )
    fx.save()


def bias():
    fx = Fixture("ops/opstest/testdata/bias.safetensors")
    for name, xs in [("nchw", (2, 3, 4, 5)), ("nc", (4, 6))]:
        g = gen("bias/" + name)
        x = randn(g, *xs)
        b = randn(g, xs[1])
        xd, bd = leaf(x), leaf(b)
        shape = [1, xs[1]] + [1] * (len(xs) - 2)
        y = xd + bd.view(*shape)
        dy = randn(g, *xs)
        y.backward(dy.double())
        fx.case(name, "bias", {}, x=x, bias=b, y=f32(y), dy=dy, db=f32(bd.grad))
    fx.save()


def cross_entropy():
    fx = Fixture("ops/opstest/testdata/cross_entropy.safetensors")
    # name, N, C, smoothing, loss scale (the upstream gradient of the loss), logit std
    cases = [
        ("smoothing0", 4, 10, 0.0, 1.0, 1.0),
        ("smoothing0.1", 4, 10, 0.1, 1.0, 1.0),
        ("smoothing0.1_scale1024", 6, 7, 0.1, 1024.0, 2.0),
        ("smoothing0_scale1024", 6, 7, 0.0, 1024.0, 2.0),
        ("large_logits", 3, 5, 0.1, 1.0, 30.0),
        ("batch1", 1, 3, 0.1, 1.0, 1.0),
    ]
    for name, n, c, eps, scale, std in cases:
        g = gen("cross_entropy/" + name)
        logits = randn(g, n, c, std=std)
        labels = torch.randint(0, c, (n,), generator=g, dtype=torch.int64)
        labels[0] = c - 1
        ld = leaf(logits)
        loss = F.cross_entropy(ld, labels, reduction="mean", label_smoothing=eps)
        loss.backward(torch.tensor(scale, dtype=torch.float64))
        fx.case(
            name,
            "cross_entropy",
            {"smoothing": eps, "scale": scale},
            logits=logits,
            labels=labels.to(torch.int32),
            loss=f32(loss),
            log_prob=f32(F.log_softmax(logits.double(), dim=1)),
            dlogits=f32(ld.grad),
        )
    fx.save()


def sgd():
    fx = Fixture("ops/opstest/testdata/sgd.safetensors")
    # name, shape, lr, momentum, weight decay, nesterov, gradient scale (gradients come scaled by 1/scale)
    cases = [
        ("mindcv_loss_scale1024", (4, 3, 3, 3), 0.1, 0.9, 1e-4, False, 1.0 / 1024),
        ("nesterov", (16,), 0.05, 0.9, 1e-4, True, 1.0),
        ("no_weight_decay", (5, 7), 0.2, 0.8, 0.0, False, 1.0),
        ("nesterov_scaled", (3, 5), 0.01, 0.95, 5e-4, True, 0.5),
    ]
    for name, shape, lr, momentum, wd, nesterov, gscale in cases:
        g = gen("sgd/" + name)
        param = randn(g, *shape)
        grad = randn(g, *shape, std=1.0 / gscale)
        accum = randn(g, *shape, std=0.1)
        p = param.double().clone().requires_grad_(True)
        opt = torch.optim.SGD([p], lr=lr, momentum=momentum, weight_decay=wd, nesterov=nesterov, dampening=0)
        opt.state[p]["momentum_buffer"] = accum.double().clone()
        p.grad = grad.double() * gscale
        opt.step()
        attrs = {"lr": lr, "momentum": momentum, "weight_decay": wd, "nesterov": nesterov, "grad_scale": gscale}
        fx.case(
            name,
            "sgd_momentum",
            attrs,
            param=param,
            grad=grad,
            accum=accum,
            param_after=f32(p),
            accum_after=f32(opt.state[p]["momentum_buffer"]),
        )
    fx.save()


def cast():
    fx = Fixture("ops/opstest/testdata/cast.safetensors")
    inf, nan = float("inf"), float("nan")
    special = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e-8, 3e-8, 6.1e-5, 1.0 + 2.0**-11,
               1.0 + 3 * 2.0**-11, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.0e38, 3.3895e38, inf, -inf, nan]
    g = gen("cast/f32")
    x = torch.cat([torch.tensor(special, dtype=torch.float32), randn(g, 45, std=100.0)])
    fx.case("f32_to_f16", "cast", {"from": "float32", "to": "float16"}, x=x, y=x.half())
    fx.case("f32_to_bf16", "cast", {"from": "float32", "to": "bfloat16"}, x=x, y=x.bfloat16())
    # Every float16 bit pattern class: random bits cover normals, subnormals, infinities and NaN.
    bits16 = torch.randint(0, 1 << 16, (64,), generator=gen("cast/f16"), dtype=torch.int32)
    bits16[:6] = torch.tensor([0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x8000], dtype=torch.int32)
    h = bits16.to(torch.int16).view(torch.float16)  # two's-complement wrap keeps the low 16 bits
    fx.case("f16_to_f32", "cast", {"from": "float16", "to": "float32"}, x=h, y=h.float())
    bbits = torch.randint(0, 1 << 16, (64,), generator=gen("cast/bf16"), dtype=torch.int32)
    bbits[:4] = torch.tensor([0x0001, 0x7F7F, 0x7F80, 0x8000], dtype=torch.int32)
    b = bbits.to(torch.int16).view(torch.bfloat16)
    fx.case("bf16_to_f32", "cast", {"from": "bfloat16", "to": "float32"}, x=b, y=b.float())
    hf = randn(gen("cast/f16_to_bf16"), 32, std=10.0).half()
    fx.case("f16_to_bf16", "cast", {"from": "float16", "to": "bfloat16"}, x=hf, y=hf.float().bfloat16())
    fi = torch.cat([torch.tensor([-2.7, -0.5, 0.0, 0.9, 3.99, 1e6 + 0.5, -123456.7], dtype=torch.float32),
                    randn(gen("cast/f32_to_i32"), 9, std=1000.0)])
    fx.case("f32_to_i32", "cast", {"from": "float32", "to": "int32"}, x=fi, y=fi.to(torch.int32))
    ii = torch.tensor([-5, 0, 7, 16777217, 2**31 - 1, -(2**31)], dtype=torch.int32)
    fx.case("i32_to_f32", "cast", {"from": "int32", "to": "float32"}, x=ii, y=ii.float())
    fx.save()


def all_finite():
    fx = Fixture("ops/opstest/testdata/all_finite.safetensors")
    inf, nan = float("inf"), float("nan")

    def case(name, *ts):
        out = torch.tensor(all(bool(torch.isfinite(t.float()).all()) for t in ts))
        fx.case(name, "all_finite", {"count": len(ts)}, out=out, **{f"t{i}": t for i, t in enumerate(ts)})

    g = gen("all_finite")
    a, b = randn(g, 3, 4), randn(g, 5)
    with_inf = b.clone()
    with_inf[3] = inf
    with_nan = a.clone()
    with_nan[1, 2] = nan
    case("finite", a, b, randn(g, 6).half())
    case("huge_but_finite", torch.tensor([3.4e38, -3.4e38]), torch.tensor([65504.0, -65504.0]).half())
    case("inf_in_second", a, with_inf)
    case("nan", with_nan, b)
    case("neg_inf_f16", a, torch.tensor([1.0, -inf, 2.0]).half())
    case("inf_bf16", torch.tensor([1.0, inf]).bfloat16())
    fx.save()


def elementwise():
    fx = Fixture("ops/opstest/testdata/elementwise.safetensors")
    for name, alpha in [("add", 1.0), ("add_alpha_neg0.5", -0.5)]:
        g = gen("elementwise/" + name)
        a, b = randn(g, 2, 3, 4), randn(g, 2, 3, 4)
        fx.case(name, "add", {"alpha": alpha}, a=a, b=b, y=f32(a.double() + alpha * b.double()))
    for name, alpha in [("scale_1over1024", 1.0 / 1024), ("scale_neg3", -3.0)]:
        x = randn(gen("elementwise/" + name), 5, 6, std=100.0)
        fx.case(name, "scale", {"alpha": alpha}, x=x, y=f32(alpha * x.double()))
    fx.save()


# ---------------------------------------------------------------------------------------------
# resnext/testdata: one ResNeXt bottleneck block in training mode


class Bottleneck(nn.Module):
    """The torchvision / MindCV bottleneck: the stride on the 3x3 grouped conv, no conv bias."""

    def __init__(self, cin, width, cout, groups, stride, eps, momentum):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=eps, momentum=momentum)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=eps, momentum=momentum)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)
        self.relu = nn.ReLU()
        self.down_sample = nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout, eps=eps, momentum=momentum)
        )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.down_sample(x))


def bottleneck():
    cin, width, cout, groups, stride, eps, momentum = 32, 128, 64, 32, 2, 1e-5, 0.1
    g = gen("nn/bottleneck")
    block = Bottleneck(cin, width, cout, groups, stride, eps, momentum)
    convs = {"conv1": block.conv1, "conv2": block.conv2, "conv3": block.conv3, "down_sample.0": block.down_sample[0]}
    bns = {"bn1": block.bn1, "bn2": block.bn2, "bn3": block.bn3, "down_sample.1": block.down_sample[1]}
    params = {}
    with torch.no_grad():
        for name, conv in convs.items():
            k, cg, r, s = conv.weight.shape
            w = randn(g, k, cg, r, s, std=(2.0 / (k * r * s)) ** 0.5)  # HeNormal(fan_out), as MindCV
            conv.weight.copy_(w)
            params[name + ".weight"] = w
        for name, bn in bns.items():
            c = bn.num_features
            vals = {
                "gamma": uniform(g, 0.5, 1.5, c),
                "beta": randn(g, c, std=0.3),
                "moving_mean": randn(g, c, std=0.2),
                "moving_variance": uniform(g, 0.5, 2.0, c),
            }
            bn.weight.copy_(vals["gamma"])
            bn.bias.copy_(vals["beta"])
            bn.running_mean.copy_(vals["moving_mean"])
            bn.running_var.copy_(vals["moving_variance"])
            for k, v in vals.items():
                params[f"{name}.{k}"] = v
    x = randn(g, 2, cin, 9, 9)
    block = block.double().train()
    xd = leaf(x)
    y = block(xd)
    dy = randn(g, *y.shape)
    y.backward(dy.double())

    tensors = dict(params)
    tensors.update({"x": x, "y": f32(y), "dy": dy, "dx": f32(xd.grad)})
    for name, conv in convs.items():
        tensors[f"grad/{name}.weight"] = f32(conv.weight.grad)
    for name, bn in bns.items():
        tensors[f"grad/{name}.gamma"] = f32(bn.weight.grad)
        tensors[f"grad/{name}.beta"] = f32(bn.bias.grad)
        tensors[f"after/{name}.moving_mean"] = f32(bn.running_mean)
        tensors[f"after/{name}.moving_variance"] = f32(bn.running_var)
    meta = {
        "generator": "scripts/gen_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "in_channels": str(cin),
        "width": str(width),
        "out_channels": str(cout),
        "groups": str(groups),
        "stride": str(stride),
        "eps": repr(eps),
        "momentum": repr(momentum),
        "momentum_convention": "pytorch: running = (1-momentum)*running + momentum*batch, variance unbiased",
    }
    save("resnext/testdata/bottleneck.safetensors", tensors, meta)


# ---------------------------------------------------------------------------------------------
# ckpt/safetensors/testdata: a file from an independent writer, one tensor per dtype


def codec_sample():
    inf, nan = float("inf"), float("nan")
    tensors = {
        "arange": (torch.arange(12, dtype=torch.float32) / 4).reshape(3, 4),
        "f16": torch.tensor([1.0, -2.5, 65504.0, 2.0**-24, inf, nan], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.5, 3.140625, 2.0**127, -inf], dtype=torch.bfloat16),
        "f64": torch.tensor([3.141592653589793, 2.718281828459045], dtype=torch.float64),
        "scalar": torch.tensor(42.0, dtype=torch.float32),
        "i32": torch.arange(-3, 4, dtype=torch.int32),
        "i64": torch.tensor([1 << 40, -1], dtype=torch.int64),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 2, dtype=torch.float32),
    }
    save("ckpt/safetensors/testdata/python.safetensors", tensors, {"format": "pt", "writer": "scripts/gen_fixtures.py"})


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for fn in (conv2d, batchnorm, relu, maxpool, global_avg_pool, matmul, bias, cross_entropy, sgd, cast,
               all_finite, elementwise, bottleneck, codec_sample):
        fn()
    fixturelib.report(limit=2_000_000)


if __name__ == "__main__":
    main()
