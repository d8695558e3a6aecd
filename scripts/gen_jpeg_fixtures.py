#!/usr/bin/env python3
"""Writes the JPEG fixtures of package data/jpeg and PIL's decodes of them.

    /usr/bin/python3 scripts/gen_jpeg_fixtures.py [OUT]      (default data/jpeg/testdata)
    /usr/bin/python3 scripts/gen_jpeg_fixtures.py --folder SRC OUT [N]

OUT/<case>.jpg is a small JPEG and OUT/<case>_s<k>.png PIL's RGB decode of it at 1/k:
Image.open(f).convert("RGB") for k = 1, and after im.draft("RGB", (w//k, h//k)) (libjpeg's DCT
scaling) otherwise. PIL is Debian's python3-pil (libjpeg-turbo 2.1.5), the reference the decoder
must match.

Most cases are written by PIL itself. Restart intervals, sampling factors PIL cannot write and
non-interleaved scans come from the small baseline encoder below (float DCT, Huffman tables
built from the image's own statistics with every symbol present, so that codes of up to 16 bits
occur).

--folder writes PIL's decodes of the first N JPEGs of an ImageFolder (SRC/*/*/*.JPEG) at every
scale, with a list.txt, for TestReferenceFolder (JPEG_REF_DIR=OUT go test ./data/jpeg/).
"""
import glob
import io
import os
import struct
import sys

import numpy as np
from PIL import Image

W, H = 67, 45


def picture(w=W, h=H, seed=1):
    """A small colourful picture with smooth gradients, hard edges and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 9.0)
    g = 40 + 3 * x + 60 * (((x // 11) + (y // 7)) % 2)
    b = 200 - 2.5 * y + 30 * np.cos((x + y) / 5.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    img[h // 3:h // 2, w // 4:w // 2] = [250, 20, 30]  # a saturated block with sharp edges
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def pil_jpeg(im, **kw):
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def segments(b):
    """Splits a JPEG into (marker, bytes of the whole segment) up to SOS, then the rest."""
    out, pos = [(0xD8, b[:2])], 2
    while True:
        m = b[pos + 1]
        n = struct.unpack(">H", b[pos + 2:pos + 4])[0]
        if m == 0xDA:
            out.append((m, b[pos:]))
            return out
        out.append((m, b[pos:pos + 2 + n]))
        pos += 2 + n


def adobe(transform):
    body = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, transform)
    return b"\xff\xee" + struct.pack(">H", len(body) + 2) + body


def as_rgb(b):
    """The same data announced as RGB: JFIF marker dropped, Adobe transform 0 added."""
    segs = [s for m, s in segments(b) if m != 0xE0]
    return segs[0] + adobe(0) + b"".join(segs[1:])


def set_adobe_transform(b, t):
    segs = segments(b)
    return b"".join(adobe(t) if m == 0xEE else s for m, s in segs)


def exif(orientation, big_endian):
    """An APP1 EXIF segment holding only the orientation tag in IFD0."""
    if big_endian:
        tiff = b"MM\x00*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x112, 3, 1, orientation, 0) + b"\0\0\0\0"
    else:
        tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x112, 3, 1, orientation, 0) + b"\0\0\0\0"
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def with_app1(b, seg):
    return b[:2] + seg + b[2:]


# ---- a small baseline encoder -------------------------------------------------------------

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34,
          27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44,
          51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]


def dct_matrix():
    c = np.zeros((8, 8))
    for k in range(8):
        for n in range(8):
            c[k, n] = (np.sqrt(0.125) if k == 0 else 0.5) * np.cos((2 * n + 1) * k * np.pi / 16)
    return c


def quant_table(kind, quality=85):
    # A smooth table rising with frequency (chroma coarser); not the Annex K table.
    u, v = np.mgrid[0:8, 0:8]
    base = 6 + 3.2 * (u + v) if kind == 0 else 9 + 5.0 * (u + v)
    scale = (100 - quality) / 50.0
    return np.clip(np.round(base * scale + 1), 1, 255).astype(int)


def size_of(v):
    return 0 if v == 0 else int(abs(v)).bit_length()


def bits_of(v, s):
    return v if v >= 0 else v + (1 << s) - 1


def code_lengths(freq):
    """JPEG Annex K.2: code sizes from frequencies, limited to 16 bits."""
    freq = dict(freq)
    freq[256] = 1  # reserved symbol so that no code is all ones
    syms = sorted(freq)
    f = {s: freq[s] for s in syms}
    size = {s: 0 for s in syms}
    others = {s: None for s in syms}
    while True:
        live = [s for s in syms if f[s] > 0]
        if len(live) < 2:
            break
        v1 = min(live, key=lambda s: (f[s], -s))
        live.remove(v1)
        v2 = min(live, key=lambda s: (f[s], -s))
        f[v1] += f[v2]
        f[v2] = 0
        s = v1
        size[s] += 1
        while others[s] is not None:
            s = others[s]
            size[s] += 1
        others[s] = v2
        s = v2
        size[s] += 1
        while others[s] is not None:
            s = others[s]
            size[s] += 1
    counts = [0] * 33
    for s in syms:
        if size[s]:
            counts[size[s]] += 1
    i = 32
    while i > 16:
        while counts[i] > 0:
            j = i - 2
            while counts[j] == 0:
                j -= 1
            counts[i] -= 2
            counts[i - 1] += 1
            counts[j + 1] += 2
            counts[j] -= 1
        i -= 1
    while counts[i] == 0:
        i -= 1
    counts[i] -= 1  # drop the reserved symbol
    order = sorted((s for s in syms if s != 256 and size[s]), key=lambda s: (size[s], s))
    return counts[1:17], order


def huff_codes(counts, order):
    codes, code, k = {}, 0, 0
    for l in range(1, 17):
        for _ in range(counts[l - 1]):
            codes[order[k]] = (code, l)
            code += 1
            k += 1
        code <<= 1
    return codes


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, v, n):
        self.acc = (self.acc << n) | (v & ((1 << n) - 1))
        self.n += n
        while self.n >= 8:
            byte = (self.acc >> (self.n - 8)) & 255
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
            self.n -= 8

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def encode(planes, factors, restart=0, interleave=True, ids=None, app=b"", quality=85):
    """Encodes full-resolution planes (uint8 arrays) with the given (h, v) sampling factors."""
    h, w = planes[0].shape
    hmax = max(f[0] for f in factors)
    vmax = max(f[1] for f in factors)
    mx, my = -(-w // (8 * hmax)), -(-h // (8 * vmax))
    C = dct_matrix()
    comps = []
    for ci, (p, (fh, fv)) in enumerate(zip(planes, factors)):
        sx, sy = hmax // fh, vmax // fv
        cw, ch = -(-w * fh // hmax), -(-h * fv // vmax)
        pw, ph = mx * fh * 8, my * fv * 8
        # Box-downsample (edge-replicated to whole boxes), then pad by replication.
        big = np.pad(p.astype(np.float64), ((0, ch * sy - h), (0, cw * sx - w)), mode="edge")
        small = big.reshape(ch, sy, cw, sx).mean(axis=(1, 3))
        small = np.pad(small, ((0, ph - ch), (0, pw - cw)), mode="edge")
        q = quant_table(0 if ci == 0 else 1, quality)
        blocks = np.zeros((ph // 8, pw // 8, 64), dtype=int)
        for by in range(ph // 8):
            for bx in range(pw // 8):
                blk = small[by * 8:by * 8 + 8, bx * 8:bx * 8 + 8] - 128
                coef = C @ blk @ C.T
                blocks[by, bx] = np.round(coef / q).astype(int).reshape(64)[ZIGZAG]
        comps.append(dict(h=fh, v=fv, q=q, blocks=blocks, cw=cw, ch=ch, tab=0 if ci == 0 else 1))

    def block_symbols(blk, pred):
        syms = []
        diff = int(blk[0]) - pred
        s = size_of(diff)
        syms.append(("dc", s, bits_of(diff, s), s))
        run = 0
        last = max([k for k in range(1, 64) if blk[k] != 0], default=0)
        for k in range(1, last + 1):
            v = int(blk[k])
            if v == 0:
                run += 1
                continue
            while run > 15:
                syms.append(("ac", 0xF0, 0, 0))
                run -= 16
            s = size_of(v)
            syms.append(("ac", (run << 4) | s, bits_of(v, s), s))
            run = 0
        if last < 63:
            syms.append(("ac", 0, 0, 0))
        return syms

    if interleave:
        scans = [list(range(len(comps)))]
    else:
        scans = [[i] for i in range(len(comps))]

    def scan_units(scan):
        """Yields lists of (component, block) per MCU."""
        if len(scan) == 1:
            c = comps[scan[0]]
            for by in range(-(-c["ch"] // 8)):
                for bx in range(-(-c["cw"] // 8)):
                    yield [(scan[0], c["blocks"][by, bx])]
        else:
            for y in range(my):
                for x in range(mx):
                    unit = []
                    for ci in scan:
                        c = comps[ci]
                        for j in range(c["v"]):
                            for i in range(c["h"]):
                                unit.append((ci, c["blocks"][y * c["v"] + j, x * c["h"] + i]))
                    yield unit

    # Pass 1: symbol statistics, with every symbol counted once so that long codes exist.
    freq = {(k, t): {} for k in ("dc", "ac") for t in (0, 1)}
    for t in (0, 1):
        for s in range(12):
            freq[("dc", t)][s] = 1
        for r in range(16):
            for s in range(1, 11):
                freq[("ac", t)][(r << 4) | s] = 1
        freq[("ac", t)][0] = 1
        freq[("ac", t)][0xF0] = 1
    coded = []
    for scan in scans:
        units = []
        preds = {ci: 0 for ci in scan}
        for n, unit in enumerate(scan_units(scan)):
            if restart and n and n % restart == 0:
                preds = {ci: 0 for ci in scan}
                units.append(None)
            syms = []
            for ci, blk in unit:
                tab = comps[ci]["tab"]
                for kind, sym, bits, nb in block_symbols(blk, preds[ci]):
                    freq[(kind, tab)][sym] = freq[(kind, tab)].get(sym, 0) + 50
                    syms.append((kind, tab, sym, bits, nb))
                preds[ci] = int(blk[0])
            units.append(syms)
        coded.append(units)
    tables = {key: code_lengths(f) for key, f in freq.items()}
    codes = {key: huff_codes(*t) for key, t in tables.items()}

    out = bytearray(b"\xff\xd8") + app

    def seg(marker, body):
        out.extend(bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body)

    ids = ids or list(range(1, len(comps) + 1))
    if len(comps) == 3 and ids == [1, 2, 3]:
        seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    for t in (0, 1):
        seg(0xDB, bytes([t]) + bytes(int(v) for v in quant_table(t, quality).reshape(64)[ZIGZAG]))
    sof = struct.pack(">BHHB", 8, h, w, len(comps))
    for ci, c in enumerate(comps):
        sof += bytes([ids[ci], (c["h"] << 4) | c["v"], c["tab"]])
    seg(0xC0, sof)
    for (kind, t), (counts, order) in tables.items():
        seg(0xC4, bytes([(0 if kind == "dc" else 16) | t]) + bytes(counts) + bytes(order))
    if restart:
        seg(0xDD, struct.pack(">H", restart))
    for scan, units in zip(scans, coded):
        body = bytes([len(scan)])
        for ci in scan:
            t = comps[ci]["tab"]
            body += bytes([ids[ci], (t << 4) | t])
        seg(0xDA, body + b"\x00\x3f\x00")
        bw = BitWriter()
        rst = 0
        for syms in units:
            if syms is None:
                bw.flush()
                out.extend(bw.out)
                bw = BitWriter()
                out.extend(bytes([0xFF, 0xD0 + rst % 8]))
                rst += 1
                continue
            for kind, t, sym, bits, nb in syms:
                code, l = codes[(kind, t)][sym]
                bw.put(code, l)
                if nb:
                    bw.put(bits, nb)
        bw.flush()
        out.extend(bw.out)
    out.extend(b"\xff\xd9")
    return bytes(out)


def ycc_planes(im):
    a = np.asarray(im.convert("YCbCr"))
    return [a[..., i] for i in range(3)]


# ---- cases ----------------------------------------------------------------------------------

def cases():
    im = picture()
    big = picture(160, 120, seed=2)
    grey = im.convert("L")
    cmyk = pil_jpeg(im.convert("CMYK"), quality=90)
    ycc = ycc_planes(im)
    out = {
        "ycc420": pil_jpeg(im, quality=90, subsampling=2),
        "ycc422": pil_jpeg(im, quality=90, subsampling=1),
        "ycc444": pil_jpeg(im, quality=90, subsampling=0),
        "grey": pil_jpeg(grey, quality=90),
        "prog420": pil_jpeg(im, quality=90, subsampling=2, progressive=True),
        "prog444": pil_jpeg(im, quality=75, subsampling=0, progressive=True),
        "proggrey": pil_jpeg(grey, quality=90, progressive=True),
        "photo420": pil_jpeg(big, quality=90, subsampling=2),
        "cmyk": cmyk,
        "ycck": set_adobe_transform(cmyk, 2),
        "rgb": as_rgb(pil_jpeg(im, quality=90, subsampling=0)),
        "orient6": with_app1(pil_jpeg(im, quality=90), exif(6, False)),
        "orient8be": with_app1(pil_jpeg(im, quality=90), exif(8, True)),
        "rst420": encode(ycc, [(2, 2), (1, 1), (1, 1)], restart=3),
        "rstgrey": encode([ycc[0]], [(1, 1)], restart=5),
        "h1v2": encode(ycc, [(1, 2), (1, 1), (1, 1)]),
        "h4v1": encode(ycc, [(4, 1), (1, 1), (1, 1)], restart=2),
        "h2v2h1v2": encode(ycc, [(2, 2), (1, 2), (1, 2)]),
        "h3v1": encode(ycc, [(3, 1), (1, 1), (1, 1)]),
        "noninter": encode(ycc, [(2, 2), (1, 1), (1, 1)], interleave=False, restart=4),
        "rgbids": encode([np.asarray(im)[..., i] for i in range(3)], [(1, 1)] * 3, ids=[82, 71, 66]),
    }
    return out


def reference(data, k):
    im = Image.open(io.BytesIO(data))
    if k > 1:
        im.draft("RGB", (im.size[0] // k, im.size[1] // k))
    return im.convert("RGB")


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    for name, data in cases().items():
        with open(os.path.join(out, name + ".jpg"), "wb") as f:
            f.write(data)
        for k in (1, 2, 4, 8):
            reference(data, k).save(os.path.join(out, "%s_s%d.png" % (name, k)), optimize=True)
        print(name, len(data), "bytes")


def write_folder(src, out, n):
    os.makedirs(out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(src, "*", "*", "*.JPEG")))[:n]
    with open(os.path.join(out, "list.txt"), "w") as lst:
        for i, f in enumerate(files):
            data = open(f, "rb").read()
            for k in (1, 2, 4, 8):
                im = reference(data, k)
                name = "%04d_s%d.rgb" % (i, k)
                with open(os.path.join(out, name), "wb") as g:
                    g.write(im.tobytes())
                lst.write("%s %d %s %d %d\n" % (f, k, name, im.size[0], im.size[1]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--folder":
        write_folder(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 100)
    else:
        write_fixtures(sys.argv[1] if len(sys.argv) > 1 else "data/jpeg/testdata")
