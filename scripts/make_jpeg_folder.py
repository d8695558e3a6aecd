#!/usr/bin/env python3
"""Writes an ImageFolder of synthetic photographs for the input-pipeline benchmarks.

    make_jpeg_folder.py OUT [--classes 4] [--per-class 250] [--val-per-class 50] [--seed 0]

OUT/train/<class>/*.JPEG and OUT/val/<class>/*.JPEG: RGB JPEGs of ImageNet's typical size (500x375,
and a quarter of them 375x500, some 333x500 or 500x333), quality 90, 4:2:0, as ImageNet's files are.
The content is photographic, not flat colour: shapes with soft edges, fine
1/f texture and sensor noise, so that the files are about ImageNet's 110 KB average and
the decoder meets as many coefficients as it does on real photographs.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZES = [(500, 375)] * 6 + [(375, 500)] * 2 + [(500, 333), (333, 500)]


def pink(rng, h, w, alpha):
    """Noise with a 1/f**alpha amplitude spectrum, as natural images have (alpha near 1), scaled to
    unit standard deviation."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**alpha
    spec[0, 0] = 0
    out = np.fft.irfft2(spec, s=(h, w))
    return (out / (out.std() + 1e-9)).astype(np.float32)


def texture(rng, h, w):
    """A colour texture: a pink-noise luminance and weaker pink-noise chroma."""
    lum = pink(rng, h, w, rng.uniform(0.8, 1.2))
    tint = rng.uniform(0.2, 0.6, 3).astype(np.float32)
    chroma = np.stack([pink(rng, h, w, 1.3) for _ in range(3)], axis=-1)
    return lum[..., None] + tint * chroma


def photo(rng, w, h):
    base = rng.uniform(60, 190, 3).astype(np.float32)
    arr = base + rng.uniform(25, 45) * texture(rng, h, w)
    canvas = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    for _ in range(rng.integers(4, 10)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(20, w / 3), rng.uniform(20, h / 3)
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        mask = Image.new("L", (w, h))
        draw = ImageDraw.Draw(mask)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=255)
        else:
            draw.polygon([(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in np.sort(rng.uniform(0, 2 * np.pi, 5))], fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 4)))
        colour = rng.uniform(20, 235, 3).astype(np.float32)
        layer = colour + rng.uniform(15, 40) * texture(rng, h, w)
        canvas = Image.composite(Image.fromarray(np.clip(layer, 0, 255).astype(np.uint8)), canvas, mask)
    arr = np.asarray(canvas, np.float32)
    arr += rng.normal(0, 4, arr.shape)  # sensor noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--per-class", type=int, default=250)
    p.add_argument("--val-per-class", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    total = 0
    for split, n in (("train", a.per_class), ("val", a.val_per_class)):
        for c in range(a.classes):
            d = os.path.join(a.out, split, "n%08d" % c)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                w, h = SIZES[rng.integers(len(SIZES))]
                path = os.path.join(d, "img_%05d.JPEG" % i)
                photo(rng, w, h).save(path, quality=90, subsampling=2)
                total += os.path.getsize(path)
    count = a.classes * (a.per_class + a.val_per_class)
    print("%d JPEGs in %s, %.0f KB on average" % (count, a.out, total / count / 1024))


if __name__ == "__main__":
    main()
