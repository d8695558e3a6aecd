package jpeg

import "encoding/binary"

// The inverse DCTs follow libjpeg's integer algorithms: the 8x8 "ISLOW" transform (Loeffler,
// Ligtenberg and Moschytz, fixed point with 13 fraction bits and 2 extra bits between the passes)
// and the reduced-size 4x4, 2x2 and 1x1 transforms it uses for DCT-domain scaling. Every
// shortcut below (all-zero columns or rows, DC-only blocks) gives the same integers as the full
// computation, so the results are those of libjpeg.
//
// Input blocks are dequantized coefficients in natural (row-major) order.

// Fixed-point constants: round(x * 2^13).
const (
	c0_211164243 = 1730
	c0_298631336 = 2446
	c0_390180644 = 3196
	c0_509795579 = 4176
	c0_541196100 = 4433
	c0_601344887 = 4926
	c0_720959822 = 5906
	c0_765366865 = 6270
	c0_850430095 = 6967
	c0_899976223 = 7373
	c1_061594337 = 8697
	c1_175875602 = 9633
	c1_272758580 = 10426
	c1_451774981 = 11893
	c1_501321110 = 12299
	c1_847759065 = 15137
	c1_961570560 = 16069
	c2_053119869 = 16819
	c2_172734803 = 17799
	c2_562915447 = 20995
	c3_072711026 = 25172
	c3_624509785 = 29692
)

// rangeLimit maps an IDCT output v (level-shifted, so centred on 0) through rangeLimit[v&1023]
// to a sample, as libjpeg's post-IDCT table does: v+128 clamped to 0..255 for |v| < 512.
var rangeLimit = func() (t [1024]uint8) {
	for i := range t {
		switch {
		case i < 128:
			t[i] = uint8(i + 128)
		case i < 512:
			t[i] = 255
		case i < 896:
			t[i] = 0
		default:
			t[i] = uint8(i - 896)
		}
	}
	return t
}()

// idctDC fills an n x n block with the value of a DC-only block whose dequantized DC is dc.
func idctDC(dc int32, dst []uint8, stride, n int) {
	v := rangeLimit[((dc+4)>>3)&1023]
	switch n {
	case 8:
		p := uint64(v) * 0x0101010101010101
		for r := 0; r < 8; r++ {
			binary.LittleEndian.PutUint64(dst[r*stride:], p)
		}
	case 4:
		p := uint32(v) * 0x01010101
		for r := 0; r < 4; r++ {
			binary.LittleEndian.PutUint32(dst[r*stride:], p)
		}
	case 2:
		dst[0], dst[1], dst[stride], dst[stride+1] = v, v, v, v
	default:
		dst[0] = v
	}
}

// idct8 is the full 8x8 ISLOW inverse DCT.
func idct8(in *[64]int32, dst []uint8, stride int) {
	var ws [64]int32
	for c := 0; c < 8; c++ {
		d0, d1, d2, d3 := in[c], in[c+8], in[c+16], in[c+24]
		d4, d5, d6, d7 := in[c+32], in[c+40], in[c+48], in[c+56]
		if d1|d2|d3|d4|d5|d6|d7 == 0 {
			v := d0 << 13 // colOut's shift leaves d0 << 2 (the pass-1 scaling)
			colOut((*[57]int32)(ws[c:]), v, v, v, v, v, v, v, v)
			continue
		}
		t10, t11, t12, t13 := idctEven8(d0, d2, d4, d6, 1<<10)
		o0, o1, o2, o3 := idctOdd8(d1, d3, d5, d7)
		colOut((*[57]int32)(ws[c:]), t10+o3, t11+o2, t12+o1, t13+o0, t13-o0, t12-o1, t11-o2, t10-o3)
	}
	for r := 0; r < 8; r++ {
		w := (*[8]int32)(ws[8*r:])
		out := (*[8]uint8)(dst[r*stride:])
		w0, w1, w2, w3, w4, w5, w6, w7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
		if w1|w2|w3|w4|w5|w6|w7 == 0 {
			v := rangeLimit[((w0+16)>>5)&1023]
			binary.LittleEndian.PutUint64(out[:], uint64(v)*0x0101010101010101)
			continue
		}
		t10, t11, t12, t13 := idctEven8(w0, w2, w4, w6, 1<<17)
		o0, o1, o2, o3 := idctOdd8(w1, w3, w5, w7)
		rowOut((*[4]uint8)(out[:4]), t10+o3, t11+o2, t12+o1, t13+o0)
		rowOut((*[4]uint8)(out[4:]), t13-o0, t12-o1, t11-o2, t10-o3)
	}
}

// idct8Low is idct8 for blocks whose non-zero coefficients all lie in the top-left 4x4 corner
// (zig-zag index 9 or less): the zero terms are dropped, which changes none of the integers.
func idct8Low(in *[64]int32, dst []uint8, stride int) {
	var ws [64]int32
	for c := 0; c < 4; c++ {
		d0, d1, d2, d3 := in[c], in[c+8], in[c+16], in[c+24]
		if d1|d2|d3 == 0 {
			v := d0 << 13 // colOut's shift leaves d0 << 2 (the pass-1 scaling)
			colOut((*[57]int32)(ws[c:]), v, v, v, v, v, v, v, v)
			continue
		}
		t10, t11, t12, t13 := idctEven8(d0, d2, 0, 0, 1<<10)
		o0, o1, o2, o3 := idctOdd8(d1, d3, 0, 0)
		colOut((*[57]int32)(ws[c:]), t10+o3, t11+o2, t12+o1, t13+o0, t13-o0, t12-o1, t11-o2, t10-o3)
	}
	for r := 0; r < 8; r++ {
		w := (*[8]int32)(ws[8*r:])
		out := (*[8]uint8)(dst[r*stride:])
		w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
		if w1|w2|w3 == 0 {
			v := rangeLimit[((w0+16)>>5)&1023]
			binary.LittleEndian.PutUint64(out[:], uint64(v)*0x0101010101010101)
			continue
		}
		t10, t11, t12, t13 := idctEven8(w0, w2, 0, 0, 1<<17)
		o0, o1, o2, o3 := idctOdd8(w1, w3, 0, 0)
		rowOut((*[4]uint8)(out[:4]), t10+o3, t11+o2, t12+o1, t13+o0)
		rowOut((*[4]uint8)(out[4:]), t13-o0, t12-o1, t11-o2, t10-o3)
	}
}

// colOut stores the eight outputs of a column pass (before the descaling shift of 11 bits)
// down a column of the workspace.
func colOut(ws *[57]int32, a0, a1, a2, a3, a4, a5, a6, a7 int32) {
	ws[0], ws[8], ws[16], ws[24] = a0>>11, a1>>11, a2>>11, a3>>11
	ws[32], ws[40], ws[48], ws[56] = a4>>11, a5>>11, a6>>11, a7>>11
}

// rowOut stores four outputs of a row pass (before the descaling shift of 18 bits) as samples.
func rowOut(out *[4]uint8, a0, a1, a2, a3 int32) {
	out[0], out[1] = rangeLimit[(a0>>18)&1023], rangeLimit[(a1>>18)&1023]
	out[2], out[3] = rangeLimit[(a2>>18)&1023], rangeLimit[(a3>>18)&1023]
}

// idctEven8 is the even half of the 8-point ISLOW transform; round is added in for the final
// descaling shift.
func idctEven8(d0, d2, d4, d6, round int32) (t10, t11, t12, t13 int32) {
	z1 := (d2 + d6) * c0_541196100
	tmp2 := z1 - d6*c1_847759065
	tmp3 := z1 + d2*c0_765366865
	tmp0 := (d0+d4)<<13 + round
	tmp1 := (d0-d4)<<13 + round
	return tmp0 + tmp3, tmp1 + tmp2, tmp1 - tmp2, tmp0 - tmp3
}

// idctOdd8 is the odd half of the 8-point ISLOW transform. libjpeg's z5 = (z3+z4)*c3 term is
// distributed into z3 and z4 (the same integers), which keeps the function small enough to be
// inlined.
func idctOdd8(d1, d3, d5, d7 int32) (o0, o1, o2, o3 int32) {
	z1 := (d7 + d1) * -c0_899976223
	z2 := (d5 + d3) * -c2_562915447
	z3 := (d7+d3)*(c1_175875602-c1_961570560) + (d5+d1)*c1_175875602
	z4 := (d5+d1)*(c1_175875602-c0_390180644) + (d7+d3)*c1_175875602
	return d7*c0_298631336 + z1 + z3, d5*c2_053119869 + z2 + z4, d3*c3_072711026 + z2 + z3, d1*c1_501321110 + z1 + z4
}

// idct4 is libjpeg's reduced 4x4-output inverse DCT (row and column 4 of the input are unused).
func idct4(in *[64]int32, dst []uint8, stride int) {
	var ws [32]int32
	for c := 0; c < 8; c++ {
		if c == 4 {
			continue
		}
		d0, d1, d2, d3 := in[c], in[c+8], in[c+16], in[c+24]
		d5, d6, d7 := in[c+40], in[c+48], in[c+56]
		if d1|d2|d3|d5|d6|d7 == 0 {
			v := d0 << 2
			ws[c], ws[c+8], ws[c+16], ws[c+24] = v, v, v, v
			continue
		}
		t10, t12, o0, o2 := idctHalf4(d0, d1, d2, d3, d5, d6, d7, 1<<11)
		ws[c], ws[c+24] = (t10+o2)>>12, (t10-o2)>>12
		ws[c+8], ws[c+16] = (t12+o0)>>12, (t12-o0)>>12
	}
	for r := 0; r < 4; r++ {
		w := (*[8]int32)(ws[8*r:])
		out := (*[4]uint8)(dst[r*stride:])
		if w[1]|w[2]|w[3]|w[5]|w[6]|w[7] == 0 {
			v := rangeLimit[((w[0]+16)>>5)&1023]
			binary.LittleEndian.PutUint32(out[:], uint32(v)*0x01010101)
			continue
		}
		t10, t12, o0, o2 := idctHalf4(w[0], w[1], w[2], w[3], w[5], w[6], w[7], 1<<18)
		out[0], out[3] = rangeLimit[((t10+o2)>>19)&1023], rangeLimit[((t10-o2)>>19)&1023]
		out[1], out[2] = rangeLimit[((t12+o0)>>19)&1023], rangeLimit[((t12-o0)>>19)&1023]
	}
}

// idctHalf4 is one 4-point-output pass of the 4x4 transform; round is added in for the final
// descaling shift.
func idctHalf4(d0, d1, d2, d3, d5, d6, d7, round int32) (t10, t12, o0, o2 int32) {
	tmp0 := d0<<14 + round
	tmp2 := d2*c1_847759065 - d6*c0_765366865
	o0 = -d7*c0_211164243 + d5*c1_451774981 - d3*c2_172734803 + d1*c1_061594337
	o2 = -d7*c0_509795579 - d5*c0_601344887 + d3*c0_899976223 + d1*c2_562915447
	return tmp0 + tmp2, tmp0 - tmp2, o0, o2
}

// idct2 is libjpeg's reduced 2x2-output inverse DCT (only rows and columns 0, 1, 3, 5 and 7 of
// the input count).
func idct2(in *[64]int32, dst []uint8, stride int) {
	var ws [16]int32
	for c := 0; c < 8; c++ {
		if c == 2 || c == 4 || c == 6 {
			continue
		}
		d0, d1, d3, d5, d7 := in[c], in[c+8], in[c+24], in[c+40], in[c+56]
		if d1|d3|d5|d7 == 0 {
			v := d0 << 2
			ws[c], ws[c+8] = v, v
			continue
		}
		t10 := d0<<15 + 1<<12
		o := idctOdd2(d1, d3, d5, d7)
		ws[c], ws[c+8] = (t10+o)>>13, (t10-o)>>13
	}
	for r := 0; r < 2; r++ {
		w := (*[8]int32)(ws[8*r:])
		out := (*[2]uint8)(dst[r*stride:])
		if w[1]|w[3]|w[5]|w[7] == 0 {
			v := rangeLimit[((w[0]+16)>>5)&1023]
			out[0], out[1] = v, v
			continue
		}
		t10 := w[0]<<15 + 1<<19
		o := idctOdd2(w[1], w[3], w[5], w[7])
		out[0], out[1] = rangeLimit[((t10+o)>>20)&1023], rangeLimit[((t10-o)>>20)&1023]
	}
}

// idctOdd2 is the odd part of the 2-point-output pass.
func idctOdd2(d1, d3, d5, d7 int32) int32 {
	return -d7*c0_720959822 + d5*c0_850430095 - d3*c1_272758580 + d1*c3_624509785
}

// idct1 is the 1x1-output inverse DCT: the rounded average, DC/8.
func idct1(in *[64]int32, dst []uint8) {
	dst[0] = rangeLimit[((in[0]+4)>>3)&1023]
}
