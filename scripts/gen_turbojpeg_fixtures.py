#!/usr/bin/env python3
"""Writes the JPEG fixtures of package data/turbojpeg and PIL's decodes of them.

    gen_turbojpeg_fixtures.py [OUT] [--cjpeg3 PATH]

OUT (default data/turbojpeg/testdata) receives small JPEGs covering what the decoder must match
PIL on: 4:2:0, 4:2:2 and 4:4:4 colour, greyscale, odd sizes, progressive, restart markers, and
NAME.sS.png, PIL's RGB decode of NAME.jpg at 1/S (S = 1, 2, 4, 8): im.draft("RGB", (w//S, h//S))
then convert("RGB"), written only where PIL picked the scale 1/S (checked with im.size). Also a
CMYK JPEG (no PNG: TurboJPEG declines it) and a
larger 4:2:0 JPEG for cropped decodes, which the tests compare with the whole decode. With --cjpeg3 (cjpeg of libjpeg-turbo 3.x), also a
lossless and a 12-bit JPEG, which TurboJPEG declines too. The restart-marker fixture is written with
jpegtran (Debian: apt-get install libjpeg-turbo-progs).

PIL decodes with the system libjpeg (Debian bookworm: libjpeg-turbo 2.1.5), with the accurate
integer IDCT and fancy upsampling, which the Go package keeps.
"""
import argparse
import os
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image


def picture(w, h, seed):
    """Smooth colour gradients, two shapes with sharp edges and mild noise: edges exercise the
    chroma upsampling, and the files stay a few KB."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(x / max(w, 1) * 3.1 + seed)
    g = 128 + 100 * np.cos(y / max(h, 1) * 2.7 - seed)
    b = 255 * (x + y) / (w + h)
    arr = np.stack([r, g, b], axis=-1)
    arr[(x - w * 0.3) ** 2 + (y - h * 0.6) ** 2 < (min(w, h) * 0.25) ** 2] = (230, 40, 30)
    arr[(abs(x - w * 0.7) < w * 0.12) & (abs(y - h * 0.35) < h * 0.2)] = (20, 60, 220)
    arr += rng.normal(0, 4, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def save_pil_decodes(path, stem, out):
    w, h = Image.open(path).size
    for s in (1, 2, 4, 8):
        im = Image.open(path)
        if s > 1:
            im.draft("RGB", (w // s, h // s))
            if im.size != ((w + s - 1) // s, (h + s - 1) // s):
                print(f"{stem}: PIL picks another scale than 1/{s}; no fixture")
                continue
        im.convert("RGB").save(os.path.join(out, f"{stem}.s{s}.png"), optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="data/turbojpeg/testdata")
    ap.add_argument("--cjpeg3", help="cjpeg of libjpeg-turbo 3.x, for the lossless and 12-bit fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    def out(name):
        return os.path.join(args.out, name)

    # name, size, PIL save options
    cases = [
        ("rgb420_64x48", (64, 48), dict(quality=85, subsampling=2)),
        ("rgb422_50x37", (50, 37), dict(quality=90, subsampling=1)),
        ("rgb444_40x30", (40, 30), dict(quality=90, subsampling=0)),
        ("odd420_33x17", (33, 17), dict(quality=80, subsampling=2)),
        ("prog420_57x43", (57, 43), dict(quality=85, subsampling=2, progressive=True)),
    ]
    for i, (name, (w, h), opts) in enumerate(cases):
        picture(w, h, i).save(out(name + ".jpg"), **opts)
        save_pil_decodes(out(name + ".jpg"), name, args.out)

    # Larger, for cropped decodes (compared with the whole decode, so no PNG): many iMCU rows.
    picture(203, 151, 5).save(out("large420_203x151.jpg"), quality=75, subsampling=2)

    picture(33, 17, 7).convert("L").save(out("gray_33x17.jpg"), quality=85)
    save_pil_decodes(out("gray_33x17.jpg"), "gray_33x17", args.out)

    jpegtran = shutil.which("jpegtran")
    if jpegtran is None:
        raise SystemExit("jpegtran not found: apt-get install libjpeg-turbo-progs")
    picture(64, 48, 9).save(out("restart.tmp.jpg"), quality=85, subsampling=2)
    subprocess.run([jpegtran, "-restart", "1", "-outfile", out("restart420_64x48.jpg"), out("restart.tmp.jpg")],
                   check=True)
    os.remove(out("restart.tmp.jpg"))
    save_pil_decodes(out("restart420_64x48.jpg"), "restart420_64x48", args.out)

    picture(24, 16, 11).convert("CMYK").save(out("cmyk_24x16.jpg"), quality=85)

    if args.cjpeg3:
        with tempfile.TemporaryDirectory() as tmp:
            ppm = os.path.join(tmp, "in.ppm")
            picture(24, 16, 13).save(ppm)
            for name, flags in [("lossless_24x16.jpg", ["-lossless", "1"]), ("p12_24x16.jpg", ["-precision", "12"])]:
                subprocess.run([args.cjpeg3, *flags, "-outfile", out(name), ppm], check=True)


if __name__ == "__main__":
    main()
