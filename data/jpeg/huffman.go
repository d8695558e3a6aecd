package jpeg

import (
	"bytes"
	"errors"
	"fmt"
)

// lutBits is how many bits of lookahead the Huffman tables resolve in one lookup.
const lutBits = 10

// huffTable is a Huffman table prepared for decoding.
//
// lut gives, for the next lutBits bits of the stream, the symbol and its code length as
// length<<8 | symbol, or 0 when the code is longer than lutBits. fast additionally decodes the
// coefficient that follows the code when code and extra bits fit in lutBits together:
// value<<16 | run<<8 | total length; run is 0x80 for an end of block and fast is 0 where the slow
// path must be taken (for DC tables run is always 0).
type huffTable struct {
	lut     [1 << lutBits]uint16
	fast    [1 << lutBits]int32
	maxcode [17]int32 // largest code of each length, -1 when there is none
	valptr  [17]int32 // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	defined bool
}

// parseDHT reads a DHT segment into the decoder's tables.
func (d *Decoder) parseDHT(p []byte) error {
	for len(p) > 0 {
		if len(p) < 17 {
			return errors.New("jpeg: DHT: truncated table header")
		}
		class, id := p[0]>>4, p[0]&15
		if class > 1 || id > 3 {
			return fmt.Errorf("jpeg: DHT: bad table class %d or id %d", class, id)
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(p[1+i])
			total += counts[i]
		}
		if total == 0 || total > 256 || len(p) < 17+total {
			return fmt.Errorf("jpeg: DHT: table %d/%d has %d symbols for %d bytes", class, id, total, len(p)-17)
		}
		t := &d.ac[id]
		if class == 0 {
			t = &d.dc[id]
		}
		if err := t.build(&counts, p[17:17+total], class == 0); err != nil {
			return err
		}
		p = p[17+total:]
	}
	return nil
}

// build fills the table from the code length counts and the symbols in code order.
func (t *huffTable) build(counts *[16]int, syms []byte, dc bool) error {
	clear(t.lut[:])
	clear(t.fast[:])
	copy(t.vals[:], syms)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valptr[l] = k - code
		t.maxcode[l] = -1
		if n > 0 {
			t.maxcode[l] = code + n - 1
		}
		if code+n > 1<<l {
			return errors.New("jpeg: DHT: code lengths overflow (not a valid Huffman table)")
		}
		for i := int32(0); i < n; i++ {
			if l <= lutBits {
				t.fillLUT(l, code, syms[k], dc)
			}
			code++
			k++
		}
		code <<= 1
	}
	t.defined = true
	return nil
}

// fillLUT enters the code of length l for sym in the lookup tables.
func (t *huffTable) fillLUT(l int, code int32, sym byte, dc bool) {
	shift := lutBits - l
	lo := int(code) << shift
	for i := lo; i < lo+1<<shift; i++ {
		t.lut[i] = uint16(l<<8) | uint16(sym)
		run, size := int(sym>>4), int(sym&15)
		switch {
		case dc && sym > 15:
			// Invalid DC size: leave to the slow path, which reports it.
		case dc:
			if l+size <= lutBits {
				t.fast[i] = fastEntry(i, l, 0, size)
			}
		case sym == 0:
			t.fast[i] = 0x80<<8 | int32(l)
		case size != 0 && l+size <= lutBits:
			t.fast[i] = fastEntry(i, l, run, size)
		}
	}
}

// fastEntry is the fast-table entry for lookahead index i holding a code of length l followed by
// size extra bits.
func fastEntry(i, l, run, size int) int32 {
	v := int32(0)
	if size > 0 {
		raw := int32(i>>(lutBits-l-size)) & (1<<size - 1)
		v = extend(raw, uint(size))
	}
	return v<<16 | int32(run)<<8 | int32(l+size)
}

// extend turns the size-bit raw value of a coefficient into its signed value (T.81 F.2.2.1).
func extend(raw int32, size uint) int32 {
	if raw < 1<<(size-1) {
		return raw - 1<<size + 1
	}
	return raw
}

// bitReader reads the entropy-coded segment of a scan. acc holds n valid bits, left-aligned; bits
// below them are zero. When the data ends or a marker is reached, zero bits are supplied instead
// and counted in pad, so that reading into them (n < pad) is detected as an error.
type bitReader struct {
	buf []byte
	pos int
	acc uint64
	n   uint
	pad uint
}

// reset starts reading entropy-coded data at buf[pos:].
func (br *bitReader) reset(buf []byte, pos int) {
	br.buf, br.pos, br.acc, br.n, br.pad = buf, pos, 0, 0, 0
}

// fill tops acc up to at least 57 bits.
func (br *bitReader) fill() {
	acc, n := br.acc, br.n
	pos := br.pos
	buf := br.buf
	if pos+8 <= len(buf) {
		x := uint64(buf[pos])<<56 | uint64(buf[pos+1])<<48 | uint64(buf[pos+2])<<40 | uint64(buf[pos+3])<<32 |
			uint64(buf[pos+4])<<24 | uint64(buf[pos+5])<<16 | uint64(buf[pos+6])<<8 | uint64(buf[pos+7])
		// No 0xFF byte among the eight: take whole bytes at once.
		if t := ^x; (t-0x0101010101010101)&^t&0x8080808080808080 == 0 {
			k := (63 - n) >> 3
			acc |= x >> (64 - 8*k) << (64 - n - 8*k)
			br.acc, br.n, br.pos = acc, n+8*k, pos+int(k)
			return
		}
	}
	for n <= 56 {
		if pos >= len(buf) {
			br.pad += 64 - n
			n = 64
			break
		}
		c := buf[pos]
		if c == 0xFF {
			if pos+1 < len(buf) && buf[pos+1] == 0 {
				pos += 2
			} else {
				br.pad += 64 - n
				n = 64
				break
			}
		} else {
			pos++
		}
		acc |= uint64(c) << (56 - n)
		n += 8
	}
	br.acc, br.n, br.pos = acc, n, pos
}

// overrun tells whether more bits were consumed than the segment holds.
func (br *bitReader) overrun() bool {
	return br.n < br.pad
}

// bits reads k (0..16) bits.
func (br *bitReader) bits(k uint) int32 {
	if k == 0 {
		return 0
	}
	if br.n < k {
		br.fill()
	}
	v := int32(br.acc >> (64 - k))
	br.acc <<= k
	br.n -= k
	return v
}

// bit reads one bit.
func (br *bitReader) bit() bool {
	if br.n == 0 {
		br.fill()
	}
	v := br.acc>>63 != 0
	br.acc <<= 1
	br.n--
	return v
}

// errBadCode is returned for a bit pattern that is no code of the Huffman table.
var errBadCode = errors.New("jpeg: corrupt entropy-coded data (bad Huffman code)")

// decode reads one Huffman-coded symbol.
func (br *bitReader) decode(t *huffTable) (byte, error) {
	if br.n < 16 {
		br.fill()
	}
	e := t.lut[br.acc>>(64-lutBits)]
	if e != 0 {
		l := uint(e >> 8)
		br.acc <<= l
		br.n -= l
		return byte(e), nil
	}
	return br.decodeSlow(t)
}

// decodeSlow decodes a code longer than lutBits.
func (br *bitReader) decodeSlow(t *huffTable) (byte, error) {
	peek := int32(br.acc >> 48)
	for l := uint(lutBits + 1); l <= 16; l++ {
		code := peek >> (16 - l)
		if code <= t.maxcode[l] {
			br.acc <<= l
			br.n -= l
			return t.vals[(t.valptr[l]+code)&255], nil
		}
	}
	return 0, errBadCode
}

// receiveExtend reads a size-bit coefficient value and extends its sign.
func (br *bitReader) receiveExtend(size uint) int32 {
	if size == 0 {
		return 0
	}
	return extend(br.bits(size), size)
}

// skipToMarker moves pos to the next marker that is not a restart marker (used after a scan
// whose remaining data is not needed), and resets the bit buffer.
func (br *bitReader) skipToMarker() {
	b := br.buf
	i := br.pos
	for {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 {
			i = len(b)
			break
		}
		i += j
		if i+1 >= len(b) {
			i = len(b)
			break
		}
		if c := b[i+1]; c != 0 && c != 0xFF && (c < mRST0 || c > mRST7) {
			break
		}
		i++
	}
	br.reset(b, i)
}

// restart consumes the restart marker RSTn (n mod 8) that ends a restart interval, and resets the
// bit buffer.
func (br *bitReader) restart(n int) error {
	b := br.buf
	i := br.pos
	for i+1 < len(b) && !(b[i] == 0xFF && b[i+1] != 0 && b[i+1] != 0xFF) {
		i++
	}
	want := byte(mRST0 + n&7)
	if i+1 >= len(b) || b[i+1] != want {
		return fmt.Errorf("jpeg: missing restart marker RST%d near offset %d", n&7, i)
	}
	br.reset(b, i+2)
	return nil
}
