#!/usr/bin/env python3
"""Writes the eval-pipeline fixtures of package data's tests: pictures and what torchvision makes of
them.

    apt-get install python3-torch python3-torchvision python3-numpy
    /usr/bin/python3 scripts/gen_pipeline_fixtures.py

Under data/testdata/pipeline/ it writes a small ImageFolder, val/<class>/<picture>, and for each
picture <name>.npy, the eval sample at image_resize 48 and crop_pct 0.875 (shorter side to 54,
centre crop 48, MindCV's normalisation on the 0-255 scale, CHW float32) as torchvision computes it
with MindSpore's arithmetic: PIL decodes (libjpeg-turbo), the uint8 tensor is resized by bilinear
interpolation without antialiasing (half-pixel centres, as OpenCV's INTER_LINEAR) and rounded to
uint8, centre cropped (odd margins rounded down, as MindSpore's CenterCrop), normalised. <name>.pil.npy is torchvision's usual pipeline instead (PIL's
antialiased Resize), to state how far MindCV's resize is from it.

The pictures: 4:2:0 JPEGs wider and taller than high, a 4:4:4 one, a greyscale one, a progressive
one, a PNG, and a JPEG whose EXIF orientation tag is 6 (turned a quarter clockwise); for that one
<name>.upright.npy is the sample of the picture turned upright first (PIL's exif_transpose).
"""
import os

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "testdata", "pipeline")
SIZE, CROP_PCT = 48, 0.875
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


def picture(rng, w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(x / 7 + y / 11), 128 + 90 * np.cos(x / 5 - y / 9), (x * 3 + y * 2) % 256], -1)
    img += rng.normal(0, 12, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def sample(img, antialias):
    side = int(SIZE / CROP_PCT)
    if antialias:
        t = F.pil_to_tensor(F.resize(img, side, InterpolationMode.BILINEAR))
    else:
        t = F.resize(F.pil_to_tensor(img), side, InterpolationMode.BILINEAR, antialias=False)
    # MindSpore's CenterCrop rounds odd margins down (torchvision's center_crop rounds them).
    top, left = (t.shape[1] - SIZE) // 2, (t.shape[2] - SIZE) // 2
    t = t[:, top:top + SIZE, left:left + SIZE].float()
    return ((t - MEAN) / STD).numpy().astype(np.float32)


def main():
    rng = np.random.default_rng(11)
    d = os.path.join(OUT, "val", "c0")
    os.makedirs(d, exist_ok=True)
    pics = {
        "wide.jpg": (picture(rng, 150, 101), dict(quality=90, subsampling=2)),
        "tall.jpg": (picture(rng, 97, 143), dict(quality=90, subsampling=2)),
        "full444.jpg": (picture(rng, 120, 90), dict(quality=95, subsampling=0)),
        "grey.jpg": (picture(rng, 110, 88).convert("L"), dict(quality=90)),
        "progressive.jpg": (picture(rng, 133, 100), dict(quality=85, progressive=True)),
        "plain.png": (picture(rng, 91, 77), {}),
    }
    exif = Image.Exif()
    exif[0x0112] = 6
    pics["turned.jpg"] = (picture(rng, 130, 96), dict(quality=90, exif=exif.tobytes()))
    for name, (img, kw) in pics.items():
        path = os.path.join(d, name)
        img.save(path, **kw)
        back = Image.open(path)
        rgb = back.convert("RGB")
        stem = os.path.splitext(name)[0]
        np.save(os.path.join(OUT, stem + ".npy"), sample(rgb, False))
        np.save(os.path.join(OUT, stem + ".pil.npy"), sample(rgb, True))
        if name == "turned.jpg":
            np.save(os.path.join(OUT, stem + ".upright.npy"), sample(ImageOps.exif_transpose(back).convert("RGB"), False))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
