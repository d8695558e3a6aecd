#!/usr/bin/env python3
"""Writes the reference outputs of the colour adjustments for data/transform's tests.

    apt-get install python3-opencv python3-numpy
    /usr/bin/python3 scripts/gen_colour_fixtures.py

MindSpore's RandomColorAdjust (MindCV's colour jitter) is a sequence of OpenCV calls
(mindspore/ccsrc/minddata/dataset/kernels/image/image_utils.cc); this script makes the same calls
through cv2 on a fixed 48x40 RGB image and writes, under data/transform/testdata/colour/:
    input.npy                      the image (uint8, HWC)
    brightness_<f>.npy             img * f                                  (AdjustBrightness)
    contrast_<f>.npy               mean-grey image * (1-f) + img * f       (AdjustContrast)
    saturation_<f>.npy             grey(img) * (1-f) + img * f              (AdjustSaturation)
    hue_<f>.npy                    RGB2HSV_FULL, hue + uint8(f*255), HSV2RGB_FULL (AdjustHue)
The image holds a smooth colour field, saturated primaries and greys, so every branch of the HSV
conversion is met.
"""
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "transform", "testdata", "colour")
FACTORS = {
    "brightness": [0.0, 0.6, 1.37],
    "contrast": [0.0, 0.55, 1.4],
    "saturation": [0.0, 0.7, 1.33],
    "hue": [-0.5, -0.21, 0.1, 0.37],
}


def image():
    rng = np.random.default_rng(7)
    h, w = 40, 48
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / (w - 1), y * 255 / (h - 1), (x + y) * 255 / (w + h - 2)], -1)
    img += rng.normal(0, 20, img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    prim = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255),
            (0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 10, 10)]
    for i, c in enumerate(prim):
        img[0, i] = c
    return img


def scale(img, f):
    return cv2.addWeighted(img, f, np.zeros_like(img), 0, 0)


def contrast(img, f):
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    mean = int(cv2.mean(gray)[0] + 0.5)
    degenerate = cv2.cvtColor(np.full(gray.shape, mean, np.uint8), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(degenerate, 1.0 - f, img, f, 0)


def saturation(img, f):
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(gray, 1.0 - f, img, f, 0)


def hue(img, f):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
    shift = np.uint8(int(f * 255) & 0xFF)
    hsv[..., 0] = hsv[..., 0] + shift  # uint8 arithmetic wraps, as the C++ loop
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def main():
    os.makedirs(OUT, exist_ok=True)
    img = image()
    np.save(os.path.join(OUT, "input.npy"), img)
    ops = {"brightness": scale, "contrast": contrast, "saturation": saturation, "hue": hue}
    for name, factors in FACTORS.items():
        for f in factors:
            np.save(os.path.join(OUT, "%s_%g.npy" % (name, f)), ops[name](img, f))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
