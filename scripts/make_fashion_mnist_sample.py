#!/usr/bin/env python3
"""Cut the Fashion-MNIST sample embedded in data/fashionmnist/sample from the full set.

The full set ships in Debian's dataset-fashion-mnist package:
    apt-get install dataset-fashion-mnist
    python3 scripts/make_fashion_mnist_sample.py [--train 2000] [--test 500]

The sample is the first N images of each split, in the original IDX format, gzipped with a fixed
mtime so the output is byte-for-byte reproducible. Fashion-MNIST: Copyright 2017 Zalando SE, MIT
(Expat) licence; see data/fashionmnist/sample/LICENSE.
"""
import argparse
import gzip
import os
import struct

SRC = "/usr/share/datasets/fashion-mnist"
DST = os.path.join(os.path.dirname(__file__), "..", "data", "fashionmnist", "sample")


def cut(name, n):
    raw = gzip.open(os.path.join(SRC, name)).read()
    magic = struct.unpack(">I", raw[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    if n > dims[0]:
        raise SystemExit(f"{name}: asked for {n} items, the file has {dims[0]}")
    per = 1
    for d in dims[1:]:
        per *= d
    head = struct.pack(">I", magic) + struct.pack(">" + "I" * ndim, n, *dims[1:])
    body = raw[4 + 4 * ndim : 4 + 4 * ndim + n * per]
    with open(os.path.join(DST, name), "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as f:
            f.write(head + body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=500)
    a = ap.parse_args()
    os.makedirs(DST, exist_ok=True)
    for split, n in (("train", a.train), ("t10k", a.test)):
        cut(f"{split}-images-idx3-ubyte.gz", n)
        cut(f"{split}-labels-idx1-ubyte.gz", n)


if __name__ == "__main__":
    main()
