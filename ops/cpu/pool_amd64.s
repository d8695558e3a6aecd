//go:build !purego

#include "textflag.h"

// The max pooling kernels of the 3x3 stride-2 window (the ResNeXt stem), in two passes that keep
// PyTorch's choice of winner (the first largest value in row-major order, or the last NaN): along
// each input row, then down each output column. A candidate v at index j replaces the winner m
// when v > m or v is NaN, taken in order.

// func maxPoolRow3s2AVX2(x *float32, n int, c0 int, hv *float32, hc *int32)
//
// For k < n (a multiple of 8): hv[k], hc[k] = the winner of x[c0+2k], x[c0+2k+1], x[c0+2k+2] and
// its column. Reads x[c0 .. c0+2n+1].
TEXT ·maxPoolRow3s2AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ c0+16(FP), AX
	MOVQ hv+24(FP), DI
	MOVQ hc+32(FP), DX
	LEAQ (SI)(AX*4), SI
	// Y10: the columns of the first candidates, c0 + 2k for the lanes k = 0..7.
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	VMOVDQU      ·poolLanes2(SB), Y11
	VPADDD       Y11, Y10, Y10
	VPCMPEQD     Y12, Y12, Y12
	VPSRLD       $31, Y12, Y12 // 1 in every lane
	VPADDD       Y12, Y12, Y13 // 2
	VPSLLD       $3, Y13, Y14  // 16: the step of the columns per 8 outputs

rowLoop:
	TESTQ CX, CX
	JEQ   rowDone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 8(SI), Y2
	VMOVUPS 40(SI), Y3
	// Even and odd lanes of x[c0..c0+16) and the even ones of x[c0+2..c0+18).
	VSHUFPS $0x88, Y1, Y0, Y4
	VPERMPD $0xD8, Y4, Y4 // x[c0+2k]
	VSHUFPS $0xDD, Y1, Y0, Y5
	VPERMPD $0xD8, Y5, Y5 // x[c0+2k+1]
	VSHUFPS $0x88, Y3, Y2, Y6
	VPERMPD $0xD8, Y6, Y6 // x[c0+2k+2]
	VMOVAPS Y10, Y7       // the winner's column
	VPADDD  Y12, Y10, Y8
	// Candidate x[c0+2k+1].
	VCMPPS    $0x1E, Y4, Y5, Y9 // v > m
	VCMPPS    $0x03, Y5, Y5, Y15 // v is NaN
	VORPS     Y15, Y9, Y9
	VBLENDVPS Y9, Y5, Y4, Y4
	VBLENDVPS Y9, Y8, Y7, Y7
	// Candidate x[c0+2k+2].
	VPADDD    Y12, Y8, Y8
	VCMPPS    $0x1E, Y4, Y6, Y9
	VCMPPS    $0x03, Y6, Y6, Y15
	VORPS     Y15, Y9, Y9
	VBLENDVPS Y9, Y6, Y4, Y4
	VBLENDVPS Y9, Y8, Y7, Y7
	VMOVUPS   Y4, (DI)
	VMOVDQU   Y7, (DX)
	VPADDD    Y14, Y10, Y10
	ADDQ      $64, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	SUBQ      $8, CX
	JMP       rowLoop

rowDone:
	VZEROUPPER
	RET

// func maxPoolCol3AVX2(v0, v1, v2 *float32, c0, c1, c2 *int32, o0, o1, o2 int, n int, y *float32, mask *int32)
//
// For k < n (a multiple of 8): the winner of the row winners v0[k], v1[k], v2[k] (in that order),
// into y[k], and its index in the plane, o_r + c_r[k], into mask[k].
TEXT ·maxPoolCol3AVX2(SB), NOSPLIT, $0-96
	MOVQ v0+0(FP), R8
	MOVQ v1+8(FP), R9
	MOVQ v2+16(FP), R10
	MOVQ c0+24(FP), R11
	MOVQ c1+32(FP), R12
	MOVQ c2+40(FP), R13
	MOVQ o0+48(FP), AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	MOVQ o1+56(FP), AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11
	MOVQ o2+64(FP), AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12
	MOVQ n+72(FP), CX
	MOVQ y+80(FP), DI
	MOVQ mask+88(FP), DX
	XORQ BX, BX

colLoop:
	CMPQ BX, CX
	JGE  colDone
	VMOVUPS (R8)(BX*4), Y0
	VMOVDQU (R11)(BX*4), Y3
	VPADDD  Y10, Y3, Y3
	VMOVUPS (R9)(BX*4), Y1
	VMOVDQU (R12)(BX*4), Y4
	VPADDD  Y11, Y4, Y4
	VMOVUPS (R10)(BX*4), Y2
	VMOVDQU (R13)(BX*4), Y5
	VPADDD  Y12, Y5, Y5
	VCMPPS    $0x1E, Y0, Y1, Y9
	VCMPPS    $0x03, Y1, Y1, Y15
	VORPS     Y15, Y9, Y9
	VBLENDVPS Y9, Y1, Y0, Y0
	VBLENDVPS Y9, Y4, Y3, Y3
	VCMPPS    $0x1E, Y0, Y2, Y9
	VCMPPS    $0x03, Y2, Y2, Y15
	VORPS     Y15, Y9, Y9
	VBLENDVPS Y9, Y2, Y0, Y0
	VBLENDVPS Y9, Y5, Y3, Y3
	VMOVUPS   Y0, (DI)(BX*4)
	VMOVDQU   Y3, (DX)(BX*4)
	ADDQ      $8, BX
	JMP       colLoop

colDone:
	VZEROUPPER
	RET

// poolLanes2 is 0, 2, 4, ..., 14: the column offsets of the first candidates of 8 outputs.
DATA ·poolLanes2+0(SB)/4, $0
DATA ·poolLanes2+4(SB)/4, $2
DATA ·poolLanes2+8(SB)/4, $4
DATA ·poolLanes2+12(SB)/4, $6
DATA ·poolLanes2+16(SB)/4, $8
DATA ·poolLanes2+20(SB)/4, $10
DATA ·poolLanes2+24(SB)/4, $12
DATA ·poolLanes2+28(SB)/4, $14
GLOBL ·poolLanes2(SB), RODATA|NOPTR, $32
