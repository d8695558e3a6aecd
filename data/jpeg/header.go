package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header is what the markers before the first scan tell.
type Header struct {
	Width, Height int  // stored size, before any EXIF orientation
	Components    int  // 1 grey, 3 YCbCr (or RGB per Adobe/JFIF markers), 4 CMYK or YCCK
	Progressive   bool // SOF2: the picture comes in several scans
	Orientation   int  // EXIF orientation tag 1..8 from APP1; 1 when absent or invalid
}

// Marker codes (the byte after 0xFF).
const (
	mSOF0  = 0xC0
	mSOF1  = 0xC1
	mSOF2  = 0xC2
	mDHT   = 0xC4
	mDAC   = 0xCC
	mRST0  = 0xD0
	mRST7  = 0xD7
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mDHP   = 0xDE
	mEXP   = 0xDF
	mAPP0  = 0xE0
	mAPP1  = 0xE1
	mAPP14 = 0xEE
	mTEM   = 0x01
)

// MaxPixels caps Width*Height (2^28 by default: 16384x16384, 768 MiB as RGB): larger pictures are
// refused before anything is allocated. The input pipeline (package data) holds every decoder, and
// Go's image decoders, to it. Set it before decoding starts to accept larger pictures.
var MaxPixels = 1 << 28

// MaxPixelsPerByte caps Width*Height against the size of the file (16384 by default), so that a
// small file whose header claims a large picture is refused before anything is allocated for it.
// No picture the input pipeline reads stores more pixels per byte: a JPEG's entropy-coded data
// holds at least a bit per 8x8 block, even of its most subsampled component (8192 pixels per byte
// at most), and a PNG's 1-bit rows deflate at most 1032:1 (8256). Only unusual WebP pictures (a
// large area of a single colour) go beyond it; set it higher before decoding starts for those.
var MaxPixelsPerByte = 1 << 14

// CheckSize reports a width x height picture, stored in a file of fileBytes bytes, that the
// decoders refuse: an empty one, one of more than MaxPixels pixels, or one of more than
// MaxPixelsPerByte pixels per byte of the file. format names the picture's format in the error.
func CheckSize(format string, width, height, fileBytes int) error {
	switch px := int64(width) * int64(height); {
	case width < 1 || height < 1:
		return fmt.Errorf("the %s image is %dx%d: it holds no pixels", format, width, height)
	case width > MaxPixels || height > MaxPixels || px > int64(MaxPixels):
		return fmt.Errorf("the %s image is %dx%d, %d pixels: more than jpeg.MaxPixels (%d); not decoded (raise jpeg.MaxPixels if the picture is genuine)",
			format, width, height, px, MaxPixels)
	case px > int64(MaxPixelsPerByte)*int64(fileBytes):
		return fmt.Errorf("the %s image claims %dx%d pixels in %d bytes: more than jpeg.MaxPixelsPerByte (%d) per byte, which no genuine picture reaches; not decoded (raise jpeg.MaxPixelsPerByte if it is genuine)",
			format, width, height, fileBytes, MaxPixelsPerByte)
	}
	return nil
}

var errNoSOI = errors.New("jpeg: missing SOI marker (not a JPEG file)")

// segment is one marker and, for markers that have one, its payload (without the length bytes).
type segment struct {
	marker byte
	data   []byte
}

// nextSegment reads the marker at b[pos:] (skipping 0xFF fill bytes) and its payload, and returns
// the position just after it.
func nextSegment(b []byte, pos int) (segment, int, error) {
	if pos >= len(b) {
		return segment{}, pos, errors.New("jpeg: unexpected end of data before EOI")
	}
	if b[pos] != 0xFF {
		return segment{}, pos, fmt.Errorf("jpeg: expected a marker at offset %d, found 0x%02x", pos, b[pos])
	}
	for pos < len(b) && b[pos] == 0xFF {
		pos++
	}
	if pos >= len(b) {
		return segment{}, pos, errors.New("jpeg: unexpected end of data in a marker")
	}
	m := b[pos]
	pos++
	if m == 0 {
		return segment{}, pos, fmt.Errorf("jpeg: stray 0xFF00 at offset %d", pos-2)
	}
	if m == mSOI || m == mEOI || m == mTEM || (m >= mRST0 && m <= mRST7) {
		return segment{marker: m}, pos, nil
	}
	if pos+2 > len(b) {
		return segment{}, pos, fmt.Errorf("jpeg: marker 0x%02x: truncated length", m)
	}
	n := int(binary.BigEndian.Uint16(b[pos:]))
	if n < 2 || pos+n > len(b) {
		return segment{}, pos, fmt.Errorf("jpeg: marker 0x%02x: length %d runs past the end of the data", m, n)
	}
	return segment{marker: m, data: b[pos+2 : pos+n]}, pos + n, nil
}

// ReadHeader parses the markers of b up to the first SOF (and any APP1 EXIF before it). It does no
// entropy decoding.
func ReadHeader(b []byte) (Header, error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != mSOI {
		return Header{}, errNoSOI
	}
	h := Header{Orientation: 1}
	pos := 2
	for {
		seg, next, err := nextSegment(b, pos)
		if err != nil {
			return h, err
		}
		pos = next
		switch m := seg.marker; {
		case m == mAPP1:
			if o := exifOrientation(seg.data); o != 0 {
				h.Orientation = o
			}
		case isSOF(m):
			f, err := parseSOF(m, seg.data)
			if err != nil {
				return h, err
			}
			h.Width, h.Height, h.Components, h.Progressive = f.width, f.height, f.ncomp, m == mSOF2
			return h, nil
		case m == mSOS || m == mEOI:
			return h, fmt.Errorf("jpeg: marker 0x%02x before any SOF", m)
		}
	}
}

// isSOF tells whether m is one of the frame markers SOF0..SOF15 (0xC4 DHT, 0xC8 JPG and 0xCC DAC
// share the range and are not).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != mDHT && m != 0xC8 && m != mDAC
}

// frame is the content of a SOF segment.
type frame struct {
	width, height int
	ncomp         int
	comps         [4]struct {
		id   byte
		h, v int
		tq   int
	}
}

// parseSOF checks and parses a SOFn segment. Only SOF0, SOF1 and SOF2 (Huffman-coded, 8-bit,
// baseline, extended or progressive) are accepted.
func parseSOF(m byte, p []byte) (frame, error) {
	var f frame
	n := int(m - mSOF0)
	switch {
	case m == mSOF0 || m == mSOF1 || m == mSOF2:
	case m == 0xC3:
		return f, errors.New("jpeg: SOF3: lossless JPEG is not supported")
	case m >= 0xC5 && m <= 0xC7 || m >= 0xCD:
		return f, fmt.Errorf("jpeg: SOF%d: hierarchical JPEG is not supported", n)
	default:
		return f, fmt.Errorf("jpeg: SOF%d: arithmetic coding is not supported", n)
	}
	if len(p) < 6 {
		return f, fmt.Errorf("jpeg: SOF%d: segment of %d bytes is too short", n, len(p))
	}
	if p[0] != 8 {
		return f, fmt.Errorf("jpeg: SOF%d: %d-bit precision is not supported (only 8-bit)", n, p[0])
	}
	f.height = int(binary.BigEndian.Uint16(p[1:]))
	f.width = int(binary.BigEndian.Uint16(p[3:]))
	f.ncomp = int(p[5])
	if f.width == 0 || f.height == 0 {
		return f, fmt.Errorf("jpeg: SOF%d: size %dx%d is not supported (a height set by DNL is not)", n, f.width, f.height)
	}
	if f.width*f.height > MaxPixels {
		return f, fmt.Errorf("jpeg: SOF%d: %dx%d pixels is above the limit of %d", n, f.width, f.height, MaxPixels)
	}
	if f.ncomp != 1 && f.ncomp != 3 && f.ncomp != 4 {
		return f, fmt.Errorf("jpeg: SOF%d: %d components (want 1, 3 or 4)", n, f.ncomp)
	}
	if len(p) != 6+3*f.ncomp {
		return f, fmt.Errorf("jpeg: SOF%d: length %d does not match %d components", n, len(p), f.ncomp)
	}
	for i := 0; i < f.ncomp; i++ {
		c := &f.comps[i]
		q := p[6+3*i:]
		c.id, c.h, c.v, c.tq = q[0], int(q[1]>>4), int(q[1]&15), int(q[2])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return f, fmt.Errorf("jpeg: SOF%d: component %d: sampling factors %dx%d out of 1..4", n, i, c.h, c.v)
		}
		if c.tq > 3 {
			return f, fmt.Errorf("jpeg: SOF%d: component %d: quantization table %d out of 0..3", n, i, c.tq)
		}
		for j := 0; j < i; j++ {
			if f.comps[j].id == c.id {
				return f, fmt.Errorf("jpeg: SOF%d: component id %d repeated", n, c.id)
			}
		}
	}
	return f, nil
}

// exifOrientation returns the orientation tag (1..8) of an APP1 EXIF payload, or 0 when there is
// none or it is malformed.
func exifOrientation(p []byte) int {
	if len(p) < 14 || string(p[:6]) != "Exif\x00\x00" {
		return 0
	}
	t := p[6:] // TIFF header; offsets are from here
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd > len(t)-2 {
		return 0
	}
	n := int(bo.Uint16(t[ifd:]))
	for i := 0; i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		var v int
		switch {
		case typ == 3 && count == 1: // SHORT
			v = int(bo.Uint16(t[e+8:]))
		case typ == 4 && count == 1: // LONG, seen in some writers
			v = int(bo.Uint32(t[e+8:]))
		default:
			return 0
		}
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}
