#!/usr/bin/env python3
"""Train resnext14_small on Fashion-MNIST in PyTorch with the recipe of a resnext YAML file.

The PyTorch half of scripts/fmnist_vs_torch.sh. Run it with Debian's PyTorch (the system
interpreter, not a pyenv or virtualenv one):
    apt-get install python3-torch python3-torchvision python3-yaml
    /usr/bin/python3 scripts/fmnist_torch.py --config configs/cpu/fashion_mnist.yaml \
        --data_dir /usr/share/datasets/fashion-mnist [--epoch_size N] [--decay_epochs D] [--threads 2]

It reads the recipe from the YAML file (keys absent from it take MindCV's defaults) and reproduces
what `resnext train` does with it:
  - the network of resnext/config.go (resnext14_small; resnext26_small too): the small stem (3x3
    conv stride 1 pad 1, no bias, batch norm, ReLU, no max pool), one stage of bottlenecks per
    planes 8, 16, 32, 64 (strides 1, 2, 2, 2 on the grouped 3x3 conv; width
    int(planes*base_width/64)*groups; down_sample = 1x1 conv + batch norm when the stride or the
    channels change), global average pool, Linear(256, classes) with bias; batch norm eps 1e-5,
    momentum 0.1 (MindSpore's 0.9); MindCV's init: convolutions N(0, 2/(out*k*k)), batch norm 1
    and 0, classifier U(-sqrt(3/fan_in), sqrt(3/fan_in)) and bias 0;
  - the data of data/idxset.go: the MNIST-format files of --data_dir (the sample in
    data/fashionmnist/sample when it is empty, as the Go side), training images flipped with
    probability hflip (the Go engine adds no padded random crop to MNIST-format sets), on whole batches
    with torch ops, then normalised (mean 0.2860, std 0.3530 on the 0-1 scale unless the YAML gives
    mean and std on the 0-255 scale); shuffled every epoch, drop_remainder as the YAML says;
  - cross-entropy with label_smoothing, MindCV's momentum SGD (torch.optim.SGD, dampening 0, weight
    decay per weight_decay_filter, Nesterov per use_nesterov), the learning rate set before every
    step from MindCV's per-step list (train/lr/lr.go: linear warmup from lr*warmup_factor over
    warmup_epochs, then cosine_decay from lr to min_lr over decay_epochs, its index restarting
    after the warmup);
  - the test top-1 after every epoch in evaluation mode (batch --eval_batch_size).

It writes one JSON object a line to stdout, times as seconds since the epoch (time.time()):
    {"kind": "model", "trainable_params": ..., "params": ..., "torch": ..., "threads": ...}
    {"kind": "training", "time": ..., "steps_per_epoch": ..., "epochs": ..., "batch_size": ...}
    {"kind": "epoch", "epoch": 1, "time": ..., "train_s": ..., "images": ..., "loss": ...}
    {"kind": "eval", "epoch": 1, "time": ..., "top1": ..., "top5": ..., "loss": ...}
    {"kind": "done", "time": ...}
and progress to stderr. A problem with the configuration or the data ends it with one line naming
the key or the file, and status 2.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import yaml
except ImportError as e:
    sys.exit(f"{e}: apt-get install python3-torch python3-torchvision python3-yaml, "
             "and run this with /usr/bin/python3")

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.normpath(os.path.join(HERE, "..", "data", "fashionmnist", "sample"))

# MindCV's defaults (config.py) of the keys this script reads, as train/config/config.go has them.
DEFAULTS = {
    "seed": 42, "dataset": "fashion_mnist", "data_dir": "", "train_split": "train", "val_split": "val",
    "shuffle": True, "num_samples": 0, "batch_size": 128, "drop_remainder": True, "image_resize": 224,
    "hflip": 0.5, "vflip": 0.0, "mean": None, "std": None, "mixup": 0.0, "cutmix": 0.0,
    "auto_augment": "", "re_prob": 0.0, "aug_repeats": 0, "model": "resnext14_small", "num_classes": 0,
    "in_channels": 1, "epoch_size": 90, "ema": False, "clip_grad": False, "gradient_accumulation_steps": 1,
    "opt": "adam", "momentum": 0.9, "weight_decay": 1e-6, "use_nesterov": False,
    "weight_decay_filter": "disable", "scheduler": "cosine_decay", "lr": 0.001, "min_lr": 1e-6,
    "warmup_epochs": 3, "warmup_factor": 0.0, "decay_epochs": 100, "lr_epoch_stair": False,
    "num_cycles": 1, "cycle_decay": 1.0, "loss": "CE", "label_smoothing": 0.0, "reduction": "mean",
    "val_interval": 1, "eval_batch_size": 0, "loss_scale_type": "fixed", "drop_overflow_update": False,
}

# The small variants of resnext/config.go: blocks per stage, planes, groups, base width.
VARIANTS = {
    "resnext14_small": ([1, 1, 1, 1], 8, 4, 32),
    "resnext26_small": ([2, 2, 2, 2], 16, 8, 16),
}

# The training sets' statistics on the 0-1 scale (data/idxset.go).
NORMALISATION = {"fashion_mnist": (0.2860, 0.3530), "fashionmnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}

SPLITS = {"train": "train", "val": "t10k", "test": "t10k"}  # data.MNISTSplits


class UserError(Exception):
    """A problem with the configuration, the data or the run (a diverged loss), reported as one line."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emit(**rec):
    print(json.dumps(rec), flush=True)


def as_bool(key, v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise UserError(f"{key}: {v!r} is not a boolean (True or False)")


def load_config(path, overrides):
    """The YAML file's keys over MindCV's defaults, then the command line's over both."""
    try:
        with open(path) as f:
            given = yaml.safe_load(f) or {}
    except OSError as e:
        raise UserError(f"--config {path}: {e.strerror}")
    except yaml.YAMLError as e:
        raise UserError(f"--config {path}: not valid YAML: {e}")
    if not isinstance(given, dict):
        raise UserError(f"--config {path}: want a mapping of keys to values")
    cfg = dict(DEFAULTS)
    cfg.update(given)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("shuffle", "drop_remainder", "ema", "clip_grad", "use_nesterov", "lr_epoch_stair", "drop_overflow_update"):
        cfg[key] = as_bool(key, cfg[key])
    return cfg


def check_supported(cfg, path):
    """Rejects, by key, what this script does not reproduce."""
    bad = []
    if str(cfg["dataset"]).lower() not in NORMALISATION:
        bad.append(f"dataset {cfg['dataset']!r}: only fashion_mnist and mnist")
    if cfg["model"] not in VARIANTS:
        bad.append(f"model {cfg['model']!r}: only {', '.join(VARIANTS)}")
    if cfg["image_resize"] != 28:
        bad.append(f"image_resize {cfg['image_resize']}: only 28 (the images' own size)")
    if str(cfg["opt"]).lower() not in ("momentum", "nesterov", "sgd"):
        bad.append(f"opt {cfg['opt']!r}: only momentum and sgd")
    if str(cfg["loss"]).lower() != "ce" or cfg["reduction"] != "mean":
        bad.append(f"loss {cfg['loss']!r}, reduction {cfg['reduction']!r}: only CE with mean")
    if cfg["scheduler"] not in ("cosine_decay", "warmup_cosine_decay", "constant"):
        bad.append(f"scheduler {cfg['scheduler']!r}: only cosine_decay and constant")
    if cfg["weight_decay_filter"] not in ("disable", "auto", "norm_and_bias"):
        bad.append(f"weight_decay_filter {cfg['weight_decay_filter']!r}: want disable, auto or norm_and_bias")
    for key in ("mixup", "cutmix", "re_prob", "vflip", "num_samples", "aug_repeats"):
        if cfg[key]:
            bad.append(f"{key} {cfg[key]}: not reproduced here; set 0")
    for key in ("ema", "clip_grad", "drop_overflow_update"):
        if cfg[key]:
            bad.append(f"{key} True: not reproduced here; set False")
    if cfg["auto_augment"]:
        bad.append(f"auto_augment {cfg['auto_augment']!r}: not reproduced here")
    if cfg["gradient_accumulation_steps"] != 1:
        bad.append(f"gradient_accumulation_steps {cfg['gradient_accumulation_steps']}: only 1")
    if cfg["loss_scale_type"] != "fixed":
        bad.append(f"loss_scale_type {cfg['loss_scale_type']!r}: only fixed (in float32 a fixed scale changes nothing)")
    if not isinstance(cfg["epoch_size"], int) or cfg["epoch_size"] < 1:
        bad.append(f"epoch_size {cfg['epoch_size']!r}: want at least 1")
    if not isinstance(cfg["batch_size"], int) or cfg["batch_size"] < 1:
        bad.append(f"batch_size {cfg['batch_size']!r}: want at least 1")
    if cfg["scheduler"] != "constant" and (not isinstance(cfg["decay_epochs"], int) or cfg["decay_epochs"] < 1):
        bad.append(f"decay_epochs {cfg['decay_epochs']!r}: want at least 1 with scheduler {cfg['scheduler']}")
    if bad:
        raise UserError(f"{path}: " + "; ".join(bad))


def lr_list(cfg, spe):
    """MindCV's per-step learning rates, as train/lr/lr.go's Build computes them."""
    lr, min_lr, w, f = float(cfg["lr"]), float(cfg["min_lr"]), int(cfg["warmup_epochs"]), float(cfg["warmup_factor"])
    epochs, stair = int(cfg["epoch_size"]), cfg["lr_epoch_stair"]

    def t(i):
        return float(i // spe) if stair else i / spe

    out = []
    if w > 0:
        start, end = lr * f, lr * 1.0
        out = [start + min(t(i), float(w)) / w * (end - start) for i in range(spe * w)]
    main = epochs - w
    if cfg["scheduler"] == "constant":
        return out + [lr] * max(spe * main, 0)
    d, cycles, cycle_decay = int(cfg["decay_epochs"]), int(cfg["num_cycles"]), float(cfg["cycle_decay"])
    total, cos = spe * main, []
    for c in range(cycles):
        delta = 0.5 * (lr * cycle_decay ** c - min_lr)
        for i in range(spe * d):
            if len(cos) >= total:
                break
            cos.append(min_lr + delta * (1.0 + math.cos(math.pi * min(t(i), float(d)) / d)))
    if main > cycles * d:
        cos += [min_lr] * ((main - cycles * d) * spe)
    return out + cos


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise UserError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    n = math.prod(dims)
    if len(raw) != 4 + 4 * ndim + n:
        raise UserError(f"{path}: {len(raw)} bytes, want {4 + 4 * ndim + n} for dims {list(dims)}")
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load_split(data_dir, split):
    prefix = SPLITS.get(split)
    if prefix is None:
        raise UserError(f"split {split!r}: want train, val or test")

    def find(name):
        for p in (name + ".gz", name):
            if os.path.exists(os.path.join(data_dir, p)):
                return read_idx(os.path.join(data_dir, p))
        raise UserError(f"{data_dir}: neither {name} nor {name}.gz exists (give --data_dir, the folder of "
                          "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])")

    images, labels = find(prefix + "-images-idx3-ubyte"), find(prefix + "-labels-idx1-ubyte")
    if images.dim() != 3 or labels.dim() != 1 or images.shape[0] != labels.shape[0]:
        raise UserError(f"{data_dir}: {prefix} images {list(images.shape)} and labels {list(labels.shape)} do not match")
    return images, labels.long()


class Bottleneck(nn.Module):
    """resnext/bottleneck.go: 1x1, grouped 3x3 with the stride, 1x1 to planes*4; down_sample when needed."""

    def __init__(self, cin, cout, width, stride, groups):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.down_sample = None
        if stride != 1 or cin != cout:
            self.down_sample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        y += x if self.down_sample is None else self.down_sample(x)
        return F.relu(y, inplace=True)


class SmallResNeXt(nn.Module):
    """resnext/resnext.go with the small stem: conv 3x3/1, bn, relu; layer1..4; pool; classifier."""

    def __init__(self, blocks, planes, groups, base_width, in_channels, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        cin = planes
        for k, n in enumerate(blocks):  # Config.Stages
            p = planes << k
            width = p * base_width // 64 * groups
            stride = 1 if k == 0 else 2
            layer = []
            for _ in range(n):
                layer.append(Bottleneck(cin, p * 4, width, stride, groups))
                cin, stride = p * 4, 1
            setattr(self, f"layer{k + 1}", nn.Sequential(*layer))
        self.classifier = nn.Linear(cin, num_classes)
        for m in self.modules():  # MindCV's init (nn/init.go)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        bound = math.sqrt(3.0 / cin)
        nn.init.uniform_(self.classifier.weight, -bound, bound)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def param_groups(model, wd, filt):
    """MindCV's weight_decay_filter: disable (every parameter), auto (not batch norm's gamma and
    beta), norm_and_bias (neither those nor biases)."""
    decay, no_decay = [], []
    for mod in model.modules():
        for name, p in mod.named_parameters(recurse=False):
            norm = isinstance(mod, nn.BatchNorm2d)
            skip = (filt == "auto" and norm) or (filt == "norm_and_bias" and (norm or name == "bias"))
            (no_decay if skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": wd}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def evaluate(model, x, y, batch):
    model.eval()
    top1 = top5 = 0
    loss = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out = model(x[i:i + batch])
            t = y[i:i + batch]
            loss += F.cross_entropy(out, t, reduction="sum").item()
            best = out.topk(min(5, out.shape[1]), dim=1).indices
            top1 += (best[:, 0] == t).sum().item()
            top5 += (best == t[:, None]).any(dim=1).sum().item()
    n = x.shape[0]
    return top1 / n, top5 / n, loss / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="the resnext YAML recipe")
    ap.add_argument("--data_dir", help="MNIST-format files (default: the YAML's; empty: the embedded sample)")
    ap.add_argument("--epoch_size", type=int, help="epochs (default: the YAML's)")
    ap.add_argument("--decay_epochs", type=int, help="cosine decay epochs (default: the YAML's)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--eval_batch_size", type=int, help="evaluation batch (default: the YAML's, else 500)")
    a = ap.parse_args()
    try:
        run(a)
    except UserError as e:
        print(f"fmnist_torch.py: {e}", file=sys.stderr)
        sys.exit(2)


def run(a):
    cfg = load_config(a.config, {"data_dir": a.data_dir, "epoch_size": a.epoch_size, "decay_epochs": a.decay_epochs})
    check_supported(cfg, a.config)
    if a.threads < 1:
        raise UserError(f"--threads {a.threads}: want at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(int(cfg["seed"]))
    gen = torch.Generator().manual_seed(int(cfg["seed"]))

    data_dir = cfg["data_dir"] or SAMPLE
    dataset = str(cfg["dataset"]).lower()
    mean, std = NORMALISATION[dataset]
    mean, std = mean * 255, std * 255
    if cfg["mean"] is not None or cfg["std"] is not None:
        m, s = cfg["mean"] or [mean], cfg["std"] or [std]
        if len(m) != 1 or len(s) != 1:
            raise UserError(f"{a.config}: mean {m}, std {s}: want one value each (grey images, 0-255 scale)")
        mean, std = float(m[0]), float(s[0])
    xtr, ytr = load_split(data_dir, cfg["train_split"])
    xte, yte = load_split(data_dir, cfg["val_split"])
    if xtr.shape[1:] != (28, 28) or xte.shape[1:] != (28, 28):
        raise UserError(f"{data_dir}: images of {list(xtr.shape[1:])}, want 28x28")
    classes = int(cfg["num_classes"]) or int(max(ytr.max(), yte.max())) + 1
    hflip = float(cfg["hflip"])
    xte_n = ((xte.float() - mean) / std).unsqueeze(1)

    def augment(idx):
        """A horizontal flip with probability hflip (the Go engine's transform for MNIST-format
        training sets), then normalise."""
        img = xtr[idx]
        flip = torch.rand(idx.shape[0], generator=gen) < hflip
        img = torch.where(flip[:, None, None], img.flip(-1), img)
        return ((img.float() - mean) / std).unsqueeze(1)

    blocks, planes, groups, base_width = VARIANTS[cfg["model"]]
    model = SmallResNeXt(blocks, planes, groups, base_width, 1, classes)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    emit(kind="model", model=cfg["model"], trainable_params=trainable, params=trainable + stats,
         torch=torch.__version__, threads=torch.get_num_threads())

    opt = torch.optim.SGD(param_groups(model, float(cfg["weight_decay"]), cfg["weight_decay_filter"]),
                          lr=float(cfg["lr"]), momentum=float(cfg["momentum"]), dampening=0,
                          nesterov=cfg["use_nesterov"] or str(cfg["opt"]).lower() == "nesterov")
    crit = nn.CrossEntropyLoss(label_smoothing=float(cfg["label_smoothing"]))
    n, bs = xtr.shape[0], int(cfg["batch_size"])
    spe = n // bs if cfg["drop_remainder"] else -(-n // bs)
    if spe == 0:
        raise UserError(f"batch_size {bs}: the training set has only {n} images (or set drop_remainder False)")
    lrs = lr_list(cfg, spe)
    epochs = int(cfg["epoch_size"])
    eval_batch = a.eval_batch_size or int(cfg["eval_batch_size"]) or 500
    val_interval = max(int(cfg["val_interval"]), 1)
    emit(kind="training", time=time.time(), steps_per_epoch=spe, epochs=epochs, batch_size=bs,
         train_images=n, test_images=xte.shape[0], data_dir=data_dir)
    log(f"torch: {cfg['model']}, {trainable} trainable parameters, {n} training images, {spe} steps/epoch, "
        f"{epochs} epochs, {torch.get_num_threads()} threads")

    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.time()
        order = torch.randperm(n, generator=gen) if cfg["shuffle"] else torch.arange(n)
        loss_sum = torch.zeros(())
        images = 0
        for s in range(spe):
            idx = order[s * bs:(s + 1) * bs]
            x, y = augment(idx), ytr[idx]
            for g in opt.param_groups:
                g["lr"] = lrs[min(step, len(lrs) - 1)]
            opt.zero_grad(set_to_none=True)
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            step += 1
            images += idx.shape[0]
            if (s + 1) % 100 == 0:
                log(f"torch: epoch {epoch} step {s + 1}/{spe}: loss {loss.item():.4f}, lr {lrs[min(step - 1, len(lrs) - 1)]:.6f}, "
                    f"{images / (time.time() - t0):.0f} img/s")
        t1 = time.time()
        mean_loss = loss_sum.item() / spe
        if not math.isfinite(mean_loss):
            raise UserError(f"epoch {epoch}: the loss is {mean_loss}: lower lr (now {cfg['lr']})")
        emit(kind="epoch", epoch=epoch, time=t1, train_s=t1 - t0, images=images, steps=spe, loss=mean_loss)
        if epoch % val_interval == 0 or epoch == epochs:
            top1, top5, vloss = evaluate(model, xte_n, yte, eval_batch)
            emit(kind="eval", epoch=epoch, time=time.time(), top1=top1, top5=top5, loss=vloss)
            log(f"torch: epoch {epoch}/{epochs}: loss {mean_loss:.4f}, {t1 - t0:.1f} s, "
                f"{images / (t1 - t0):.0f} img/s, test top-1 {100 * top1:.2f}%")
    emit(kind="done", time=time.time())


if __name__ == "__main__":
    main()
