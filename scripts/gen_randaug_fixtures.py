#!/usr/bin/env python3
"""Writes the reference outputs of the RandAugment operations for data/transform's tests.

    /usr/bin/python3 scripts/gen_randaug_fixtures.py      (Debian's python3-pil 9.4 and python3-numpy)

Each operation of MindCV's RandAugment table runs at fixed arguments (the argument an operation
receives after MindCV's level function, signs included) on a fixed 37x29 textured RGB image: through
Pillow, but for Brightness, Contrast and Color, which MindCV runs as MindSpore's RandomColorAdjust
and RandomColor, i.e. OpenCV's arithmetic, and which run through the cv2 calls of
scripts/gen_colour_fixtures.py (needs python3-opencv). Written under data/transform/testdata/randaug/:
    input.rgb        the image, raw 8-bit HWC RGB, 37 wide, 29 high
    <name>.rgb       each operation's output, same layout
    manifest.json    one entry per output: file, op, arg, resample (for the geometric ops)
Geometric operations fill with (124, 116, 104), MindCV's img_mean for the ImageNet mean.
"""
import json
import math
import os

import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageOps, __version__

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_colour_fixtures as cv  # noqa: E402  MindSpore's colour adjustments through cv2

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "transform", "testdata", "randaug")
W, H = 37, 29
FILL = (124, 116, 104)
RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def image():
    """A textured image whose channels span different, partial ranges (so autocontrast and
    equalize have work to do), with edges, gradients and noise."""
    rng = np.random.RandomState(20240607)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 30 + 150 * x / (W - 1) + 20 * np.sin(y / 2.0)
    g = 60 + 120 * y / (H - 1) + 30 * ((x.astype(int) // 5 + y.astype(int) // 4) % 2)
    b = 5 + 240 * (((x - W / 2) ** 2 + (y - H / 2) ** 2) ** 0.5) / 24
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (H, W, 3))
    img[10:14, 5:30] = (250, 20, 200)
    img = np.clip(np.round(img), [20, 40, 0], [210, 235, 255])
    return Image.fromarray(img.astype(np.uint8), "RGB")


def shear_x(img, deg, resample):
    """A shear along x by deg degrees about the image centre: x_in = x + tan(deg) (y - h/2)."""
    t = math.tan(math.radians(deg))
    return img.transform(img.size, Image.AFFINE, (1, t, -t * img.size[1] / 2.0, 0, 1, 0), resample, fillcolor=FILL)


def shear_y(img, deg, resample):
    """A shear along y by deg degrees about the image centre: y_in = y + tan(deg) (x - w/2)."""
    t = math.tan(math.radians(deg))
    return img.transform(img.size, Image.AFFINE, (1, 0, 0, t, 1, -t * img.size[0] / 2.0), resample, fillcolor=FILL)


def translate_x(img, frac, resample):
    """A translation by frac of the width: x_in = x + frac * w."""
    return img.transform(img.size, Image.AFFINE, (1, 0, frac * img.size[0], 0, 1, 0), resample, fillcolor=FILL)


def translate_y(img, frac, resample):
    """A translation by frac of the height: y_in = y + frac * h."""
    return img.transform(img.size, Image.AFFINE, (1, 0, 0, 0, 1, frac * img.size[1]), resample, fillcolor=FILL)


def rotate(img, deg, resample):
    return img.rotate(deg, resample=resample, fillcolor=FILL)


POINT = {
    "autocontrast": lambda img, _: ImageOps.autocontrast(img),
    "equalize": lambda img, _: ImageOps.equalize(img),
    "invert": lambda img, _: ImageOps.invert(img),
    "posterize": lambda img, bits: ImageOps.posterize(img, bits),
    "solarize": lambda img, t: ImageOps.solarize(img, t),
    "color": lambda img, f: cv.saturation(np.asarray(img), f),
    "contrast": lambda img, f: cv.contrast(np.asarray(img), f),
    "brightness": lambda img, f: cv.scale(np.asarray(img), f),
    "sharpness": lambda img, f: ImageEnhance.Sharpness(img).enhance(f),
}
GEOMETRIC = {"rotate": rotate, "shearx": shear_x, "sheary": shear_y, "translatex": translate_x, "translatey": translate_y}

CASES = (
    [("autocontrast", 0), ("equalize", 0), ("invert", 0)]
    + [("posterize", b) for b in (1, 4, 5, 7, 8)]
    + [("solarize", t) for t in (0, 25, 128, 229, 255, 256)]
    + [(op, f) for op in ("color", "contrast", "brightness", "sharpness") for f in (0.0, 0.1, 0.37, 1.0, 1.54, 1.9)]
)
GEOMETRIC_CASES = [
    ("rotate", 27.0, "bilinear"), ("rotate", -13.5, "bilinear"), ("rotate", 30.0, "bicubic"),
    ("rotate", -8.25, "bicubic"), ("rotate", 21.0, "nearest"), ("rotate", 0.0, "bilinear"),
    ("shearx", 15.0, "bilinear"), ("shearx", -0.27, "bilinear"), ("shearx", -11.0, "bicubic"),
    ("sheary", 12.0, "bilinear"), ("sheary", -16.7, "bicubic"),
    ("translatex", 0.405, "bilinear"), ("translatex", -0.2335, "bicubic"),
    ("translatey", -0.3, "bilinear"), ("translatey", 0.1234, "bicubic"), ("translatex", 0.25, "nearest"),
]


def name_of(op, arg, resample=None):
    s = f"{op}_{arg:g}".replace("-", "m").replace(".", "p")
    return f"{s}_{resample}" if resample else s


def main():
    os.makedirs(OUT, exist_ok=True)
    src = image()
    manifest = []

    def save(name, img, entry):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(np.asarray(img, dtype=np.uint8).tobytes())
        manifest.append(dict(file=name, **entry))

    with open(os.path.join(OUT, "input.rgb"), "wb") as f:
        f.write(np.asarray(src).tobytes())
    for op, arg in CASES:
        save(name_of(op, arg) + ".rgb", POINT[op](src, arg), dict(op=op, arg=arg))
    for op, arg, resample in GEOMETRIC_CASES:
        out = GEOMETRIC[op](src, arg, RESAMPLE[resample])
        save(name_of(op, arg, resample) + ".rgb", out, dict(op=op, arg=arg, resample=resample))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(dict(pillow=__version__, width=W, height=H, fill=FILL, cases=manifest), f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest) + 2} files, {total} bytes, to {os.path.normpath(OUT)} (Pillow {__version__})")


if __name__ == "__main__":
    main()
