#!/usr/bin/env python3
"""torchvision's side of scripts/bench_data_vs_torch.sh: the images/s of an ImageFolder through
MindCV-equivalent transforms and a DataLoader.

    bench_data_torch.py DATA_DIR [--split train|val] [--batch_size 64] [--workers 2] [--epochs 2]

train: RandomResizedCrop(224, scale (0.08, 1), ratio (0.75, 1.333), bilinear), RandomHorizontalFlip,
ColorJitter(0.4, 0.4, 0.4), ToTensor, Normalize (MindCV's mean and std on the 0-255 scale, divided by
255). val: Resize(256, bilinear), CenterCrop(224), ToTensor, Normalize. Decoding is PIL's (libjpeg-turbo).
The first epoch warms the workers and the page cache and is not counted; one JSON line is printed.
"""
import argparse
import json
import time

import torch
from torchvision import datasets, transforms

MEAN = [123.675 / 255, 116.28 / 255, 103.53 / 255]
STD = [58.395 / 255, 57.12 / 255, 57.375 / 255]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data_dir")
    p.add_argument("--split", default="train", choices=["train", "val"])
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
    bil = transforms.InterpolationMode.BILINEAR
    if a.split == "train":
        t = transforms.Compose([
            transforms.RandomResizedCrop(224, scale=(0.08, 1.0), ratio=(0.75, 1.333), interpolation=bil),
            transforms.RandomHorizontalFlip(0.5),
            transforms.ColorJitter(0.4, 0.4, 0.4),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])
    else:
        t = transforms.Compose([
            transforms.Resize(256, interpolation=bil),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])
    ds = datasets.ImageFolder(f"{a.data_dir}/{a.split}", t)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch_size, shuffle=a.split == "train",
                                     num_workers=a.workers, drop_last=a.split == "train",
                                     persistent_workers=a.workers > 0)
    times = []
    for epoch in range(a.epochs + 1):
        n, t0 = 0, time.perf_counter()
        for x, _ in dl:
            n += x.shape[0]
        if epoch > 0:
            times.append((n, time.perf_counter() - t0))
    rates = sorted(n / s for n, s in times)
    print(json.dumps({"impl": "torchvision", "split": a.split, "workers": a.workers, "batch_size": a.batch_size,
                      "img_per_s": rates[len(rates) // 2], "epochs": len(times)}))


if __name__ == "__main__":
    main()
