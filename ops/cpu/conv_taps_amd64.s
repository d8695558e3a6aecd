//go:build !purego

#include "textflag.h"

// func convTapsAVX2(k int, a, base *float32, offs *int, c *float32, ldc int)
//
// The 4x24 tile of a convolution by taps: c[i*ldc+j] = sum over p < k of a[p*4+i] *
// base[offs[p]+j] for i < 4 and j < 24. a is a packed panel of four filters (k taps of 4 values),
// offs the offset of each tap's run in base. The tile lives in 12 accumulators (Y0-Y11); each tap
// loads three vectors of its run and broadcasts four filter values.
TEXT ·convTapsAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ base+16(FP), DI
	MOVQ offs+24(FP), BX
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JEQ   tapsStore

tapsLoop:
	MOVQ    (BX), AX
	LEAQ    (DI)(AX*4), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	VMOVUPS 64(AX), Y14
	VBROADCASTSS 0(SI), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VBROADCASTSS 8(SI), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ $8, BX
	ADDQ $16, SI
	DECQ CX
	JNE  tapsLoop

tapsStore:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Y3, 0(DX)
	VMOVUPS Y4, 32(DX)
	VMOVUPS Y5, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Y6, 0(DX)
	VMOVUPS Y7, 32(DX)
	VMOVUPS Y8, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Y9, 0(DX)
	VMOVUPS Y10, 32(DX)
	VMOVUPS Y11, 64(DX)
	VZEROUPPER
	RET

// func convTapDotAVX2(k int, a *float32, lda int, base *float32, offs *int, out *float32)
//
// The 4x3 tile of a weight gradient by taps: out[i*3+t] = sum over j < k of a[i*lda+j] *
// base[offs[t]+j] for i < 4 and t < 3, k a multiple of 8. a holds four rows of output gradient,
// offs the offsets of three taps' runs in base. Each of the 12 accumulators (Y0-Y11) sums eight
// lanes of one dot product, added up at the end.
TEXT ·convTapDotAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ base+24(FP), DI
	MOVQ offs+32(FP), BX
	MOVQ out+40(FP), DX
	MOVQ (BX), AX
	LEAQ (DI)(AX*4), R9
	MOVQ 8(BX), AX
	LEAQ (DI)(AX*4), R10
	MOVQ 16(BX), AX
	LEAQ (DI)(AX*4), R11
	LEAQ (SI)(R8*1), DI
	LEAQ (DI)(R8*1), R12
	LEAQ (R12)(R8*1), R13

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ  AX, AX
	SHLQ  $2, CX
	TESTQ CX, CX
	JEQ   dotSum

dotLoop:
	VMOVUPS (R9)(AX*1), Y12
	VMOVUPS (R10)(AX*1), Y13
	VMOVUPS (R11)(AX*1), Y14
	VMOVUPS (SI)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VMOVUPS (DI)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VMOVUPS (R12)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VMOVUPS (R13)(AX*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  dotLoop

dotSum:
	VEXTRACTF128 $1, Y0, X12
	VADDPS       X12, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, 0(DX)
	VEXTRACTF128 $1, Y1, X12
	VADDPS       X12, X1, X1
	VHADDPS      X1, X1, X1
	VHADDPS      X1, X1, X1
	VMOVSS       X1, 4(DX)
	VEXTRACTF128 $1, Y2, X12
	VADDPS       X12, X2, X2
	VHADDPS      X2, X2, X2
	VHADDPS      X2, X2, X2
	VMOVSS       X2, 8(DX)
	VEXTRACTF128 $1, Y3, X12
	VADDPS       X12, X3, X3
	VHADDPS      X3, X3, X3
	VHADDPS      X3, X3, X3
	VMOVSS       X3, 12(DX)
	VEXTRACTF128 $1, Y4, X12
	VADDPS       X12, X4, X4
	VHADDPS      X4, X4, X4
	VHADDPS      X4, X4, X4
	VMOVSS       X4, 16(DX)
	VEXTRACTF128 $1, Y5, X12
	VADDPS       X12, X5, X5
	VHADDPS      X5, X5, X5
	VHADDPS      X5, X5, X5
	VMOVSS       X5, 20(DX)
	VEXTRACTF128 $1, Y6, X12
	VADDPS       X12, X6, X6
	VHADDPS      X6, X6, X6
	VHADDPS      X6, X6, X6
	VMOVSS       X6, 24(DX)
	VEXTRACTF128 $1, Y7, X12
	VADDPS       X12, X7, X7
	VHADDPS      X7, X7, X7
	VHADDPS      X7, X7, X7
	VMOVSS       X7, 28(DX)
	VEXTRACTF128 $1, Y8, X12
	VADDPS       X12, X8, X8
	VHADDPS      X8, X8, X8
	VHADDPS      X8, X8, X8
	VMOVSS       X8, 32(DX)
	VEXTRACTF128 $1, Y9, X12
	VADDPS       X12, X9, X9
	VHADDPS      X9, X9, X9
	VHADDPS      X9, X9, X9
	VMOVSS       X9, 36(DX)
	VEXTRACTF128 $1, Y10, X12
	VADDPS       X12, X10, X10
	VHADDPS      X10, X10, X10
	VHADDPS      X10, X10, X10
	VMOVSS       X10, 40(DX)
	VEXTRACTF128 $1, Y11, X12
	VADDPS       X12, X11, X11
	VHADDPS      X11, X11, X11
	VHADDPS      X11, X11, X11
	VMOVSS       X11, 44(DX)
	VZEROUPPER
	RET
