//go:build !purego

#include "textflag.h"

// The batch-norm loops (batchnorm_amd64.go). Each walks one channel: n planes of hw floats, stride
// floats apart, from a plane's start in unrolled vectors, then in single vectors (four floats for
// the sums, eight for the elementwise loops), then one float at a time for the tail. Sums are
// float64: VCVTPS2PD widens four floats at a time, and four accumulators a sum keep the additions
// independent. The elementwise formulas round as the portable loops do at the default GOAMD64 (no
// fused multiply-add), so both give the same bits.

// HSUM4(A, B, C, D, a, b, s) leaves in the low lane of a, the X register of A, the sum of the four
// lanes of each of the Y registers A, B, C and D plus the low lane of the X register s; b is the X
// register of B. It overwrites A, B and C.
#define HSUM4(A, B, C, D, a, b, s) \
	VADDPD       B, A, A; \
	VADDPD       D, C, C; \
	VADDPD       C, A, A; \
	VEXTRACTF128 $1, A, b; \
	VADDPD       b, a, a; \
	VUNPCKHPD    a, a, b; \
	VADDSD       b, a, a; \
	VADDSD       s, a, a

// ZEROSUMS zeroes the accumulators of two float64 sums: four vectors each, Y0 to Y3 and Y4 to
// Y7, and a scalar each for the tails, X12 and X13.
#define ZEROSUMS \
	VXORPD Y0, Y0, Y0; \
	VXORPD Y1, Y1, Y1; \
	VXORPD Y2, Y2, Y2; \
	VXORPD Y3, Y3, Y3; \
	VXORPD Y4, Y4, Y4; \
	VXORPD Y5, Y5, Y5; \
	VXORPD Y6, Y6, Y6; \
	VXORPD Y7, Y7, Y7; \
	VXORPD X12, X12, X12; \
	VXORPD X13, X13, X13

// func bnStatsAVX2(x *float32, hw, n, stride int, shift float64) (s1, s2 float64)
// s1 = sum of d, s2 = sum of d*d, d = float64(x) - shift, over the channel.
TEXT ·bnStatsAVX2(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         hw+8(FP), DX
	MOVQ         n+16(FP), BX
	MOVQ         stride+24(FP), R8
	SHLQ         $2, R8
	VBROADCASTSD shift+32(FP), Y15
	ZEROSUMS

statsPlane:
	TESTQ BX, BX
	JZ    statsDone
	MOVQ  SI, AX
	MOVQ  DX, CX

stats16:
	CMPQ        CX, $16
	JL          stats4
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   16(AX), Y9
	VCVTPS2PD   32(AX), Y10
	VCVTPS2PD   48(AX), Y11
	VSUBPD      Y15, Y8, Y8
	VSUBPD      Y15, Y9, Y9
	VSUBPD      Y15, Y10, Y10
	VSUBPD      Y15, Y11, Y11
	VADDPD      Y8, Y0, Y0
	VADDPD      Y9, Y1, Y1
	VADDPD      Y10, Y2, Y2
	VADDPD      Y11, Y3, Y3
	VFMADD231PD Y8, Y8, Y4
	VFMADD231PD Y9, Y9, Y5
	VFMADD231PD Y10, Y10, Y6
	VFMADD231PD Y11, Y11, Y7
	ADDQ        $64, AX
	SUBQ        $16, CX
	JMP         stats16

stats4:
	CMPQ        CX, $4
	JL          stats1
	VCVTPS2PD   (AX), Y8
	VSUBPD      Y15, Y8, Y8
	VADDPD      Y8, Y0, Y0
	VFMADD231PD Y8, Y8, Y4
	ADDQ        $16, AX
	SUBQ        $4, CX
	JMP         stats4

stats1:
	TESTQ       CX, CX
	JZ          statsNext
	VCVTSS2SD   (AX), X8, X8
	VSUBSD      X15, X8, X8
	VADDSD      X8, X12, X12
	VFMADD231SD X8, X8, X13
	ADDQ        $4, AX
	DECQ        CX
	JMP         stats1

statsNext:
	ADDQ R8, SI
	DECQ BX
	JMP  statsPlane

statsDone:
	HSUM4(Y0, Y1, Y2, Y3, X0, X1, X12)
	HSUM4(Y4, Y5, Y6, Y7, X4, X5, X13)
	VMOVSD X0, s1+40(FP)
	VMOVSD X4, s2+48(FP)
	VZEROUPPER
	RET

// func bnNormalizeAVX2(x, y *float32, hw, n, stride int, mean, scale, shift float32)
// y = (x - mean)*scale + shift over the channel.
TEXT ·bnNormalizeAVX2(SB), NOSPLIT, $0-52
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         hw+16(FP), DX
	MOVQ         n+24(FP), BX
	MOVQ         stride+32(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS mean+40(FP), Y13
	VBROADCASTSS scale+44(FP), Y14
	VBROADCASTSS shift+48(FP), Y15

normPlane:
	TESTQ BX, BX
	JZ    normDone
	MOVQ  SI, AX
	MOVQ  DI, R9
	MOVQ  DX, CX

norm32:
	CMPQ    CX, $32
	JL      norm8
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VSUBPS  Y13, Y0, Y0
	VSUBPS  Y13, Y1, Y1
	VSUBPS  Y13, Y2, Y2
	VSUBPS  Y13, Y3, Y3
	VMULPS  Y14, Y0, Y0
	VMULPS  Y14, Y1, Y1
	VMULPS  Y14, Y2, Y2
	VMULPS  Y14, Y3, Y3
	VADDPS  Y15, Y0, Y0
	VADDPS  Y15, Y1, Y1
	VADDPS  Y15, Y2, Y2
	VADDPS  Y15, Y3, Y3
	VMOVUPS Y0, (R9)
	VMOVUPS Y1, 32(R9)
	VMOVUPS Y2, 64(R9)
	VMOVUPS Y3, 96(R9)
	ADDQ    $128, AX
	ADDQ    $128, R9
	SUBQ    $32, CX
	JMP     norm32

norm8:
	CMPQ    CX, $8
	JL      norm1
	VMOVUPS (AX), Y0
	VSUBPS  Y13, Y0, Y0
	VMULPS  Y14, Y0, Y0
	VADDPS  Y15, Y0, Y0
	VMOVUPS Y0, (R9)
	ADDQ    $32, AX
	ADDQ    $32, R9
	SUBQ    $8, CX
	JMP     norm8

norm1:
	TESTQ  CX, CX
	JZ     normNext
	VMOVSS (AX), X0
	VSUBSS X13, X0, X0
	VMULSS X14, X0, X0
	VADDSS X15, X0, X0
	VMOVSS X0, (R9)
	ADDQ   $4, AX
	ADDQ   $4, R9
	DECQ   CX
	JMP    norm1

normNext:
	ADDQ R8, SI
	ADDQ R8, DI
	DECQ BX
	JMP  normPlane

normDone:
	VZEROUPPER
	RET

// func bnBackSumsAVX2(dy, x *float32, hw, n, stride int, mean float64) (sdy, sdyx float64)
// sdy = sum of dy, sdyx = sum of dy*(x - mean), in float64, over the channel.
TEXT ·bnBackSumsAVX2(SB), NOSPLIT, $0-64
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), DI
	MOVQ         hw+16(FP), DX
	MOVQ         n+24(FP), BX
	MOVQ         stride+32(FP), R8
	SHLQ         $2, R8
	VBROADCASTSD mean+40(FP), Y15
	ZEROSUMS

sumsPlane:
	TESTQ BX, BX
	JZ    sumsDone
	MOVQ  SI, AX
	MOVQ  DI, R9
	MOVQ  DX, CX

sums16:
	CMPQ        CX, $16
	JL          sums4
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   16(AX), Y9
	VCVTPS2PD   (R9), Y10
	VCVTPS2PD   16(R9), Y11
	VSUBPD      Y15, Y10, Y10
	VSUBPD      Y15, Y11, Y11
	VADDPD      Y8, Y0, Y0
	VADDPD      Y9, Y1, Y1
	VFMADD231PD Y10, Y8, Y4
	VFMADD231PD Y11, Y9, Y5
	VCVTPS2PD   32(AX), Y8
	VCVTPS2PD   48(AX), Y9
	VCVTPS2PD   32(R9), Y10
	VCVTPS2PD   48(R9), Y11
	VSUBPD      Y15, Y10, Y10
	VSUBPD      Y15, Y11, Y11
	VADDPD      Y8, Y2, Y2
	VADDPD      Y9, Y3, Y3
	VFMADD231PD Y10, Y8, Y6
	VFMADD231PD Y11, Y9, Y7
	ADDQ        $64, AX
	ADDQ        $64, R9
	SUBQ        $16, CX
	JMP         sums16

sums4:
	CMPQ        CX, $4
	JL          sums1
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   (R9), Y9
	VSUBPD      Y15, Y9, Y9
	VADDPD      Y8, Y0, Y0
	VFMADD231PD Y9, Y8, Y4
	ADDQ        $16, AX
	ADDQ        $16, R9
	SUBQ        $4, CX
	JMP         sums4

sums1:
	TESTQ       CX, CX
	JZ          sumsNext
	VCVTSS2SD   (AX), X8, X8
	VCVTSS2SD   (R9), X9, X9
	VSUBSD      X15, X9, X9
	VADDSD      X8, X12, X12
	VFMADD231SD X9, X8, X13
	ADDQ        $4, AX
	ADDQ        $4, R9
	DECQ        CX
	JMP         sums1

sumsNext:
	ADDQ R8, SI
	ADDQ R8, DI
	DECQ BX
	JMP  sumsPlane

sumsDone:
	HSUM4(Y0, Y1, Y2, Y3, X0, X1, X12)
	HSUM4(Y4, Y5, Y6, Y7, X4, X5, X13)
	VMOVSD X0, sdy+48(FP)
	VMOVSD X4, sdyx+56(FP)
	VZEROUPPER
	RET

// func bnBackDxAVX2(dy, x, dx *float32, hw, n, stride int, mean, a, mdy, k float32)
// dx = a*(dy - mdy - (x - mean)*k) over the channel.
TEXT ·bnBackDxAVX2(SB), NOSPLIT, $0-64
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), DI
	MOVQ         dx+16(FP), R10
	MOVQ         hw+24(FP), DX
	MOVQ         n+32(FP), BX
	MOVQ         stride+40(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS mean+48(FP), Y12
	VBROADCASTSS a+52(FP), Y13
	VBROADCASTSS mdy+56(FP), Y14
	VBROADCASTSS k+60(FP), Y15

dxPlane:
	TESTQ BX, BX
	JZ    dxDone
	MOVQ  SI, AX
	MOVQ  DI, R9
	MOVQ  R10, R11
	MOVQ  DX, CX

dx32:
	CMPQ    CX, $32
	JL      dx8
	VMOVUPS (R9), Y4
	VMOVUPS 32(R9), Y5
	VMOVUPS 64(R9), Y6
	VMOVUPS 96(R9), Y7
	VSUBPS  Y12, Y4, Y4
	VSUBPS  Y12, Y5, Y5
	VSUBPS  Y12, Y6, Y6
	VSUBPS  Y12, Y7, Y7
	VMULPS  Y15, Y4, Y4
	VMULPS  Y15, Y5, Y5
	VMULPS  Y15, Y6, Y6
	VMULPS  Y15, Y7, Y7
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VSUBPS  Y14, Y0, Y0
	VSUBPS  Y14, Y1, Y1
	VSUBPS  Y14, Y2, Y2
	VSUBPS  Y14, Y3, Y3
	VSUBPS  Y4, Y0, Y0
	VSUBPS  Y5, Y1, Y1
	VSUBPS  Y6, Y2, Y2
	VSUBPS  Y7, Y3, Y3
	VMULPS  Y13, Y0, Y0
	VMULPS  Y13, Y1, Y1
	VMULPS  Y13, Y2, Y2
	VMULPS  Y13, Y3, Y3
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	VMOVUPS Y2, 64(R11)
	VMOVUPS Y3, 96(R11)
	ADDQ    $128, AX
	ADDQ    $128, R9
	ADDQ    $128, R11
	SUBQ    $32, CX
	JMP     dx32

dx8:
	CMPQ    CX, $8
	JL      dx1
	VMOVUPS (R9), Y4
	VSUBPS  Y12, Y4, Y4
	VMULPS  Y15, Y4, Y4
	VMOVUPS (AX), Y0
	VSUBPS  Y14, Y0, Y0
	VSUBPS  Y4, Y0, Y0
	VMULPS  Y13, Y0, Y0
	VMOVUPS Y0, (R11)
	ADDQ    $32, AX
	ADDQ    $32, R9
	ADDQ    $32, R11
	SUBQ    $8, CX
	JMP     dx8

dx1:
	TESTQ  CX, CX
	JZ     dxNext
	VMOVSS (R9), X4
	VSUBSS X12, X4, X4
	VMULSS X15, X4, X4
	VMOVSS (AX), X0
	VSUBSS X14, X0, X0
	VSUBSS X4, X0, X0
	VMULSS X13, X0, X0
	VMOVSS X0, (R11)
	ADDQ   $4, AX
	ADDQ   $4, R9
	ADDQ   $4, R11
	DECQ   CX
	JMP    dx1

dxNext:
	ADDQ R8, SI
	ADDQ R8, DI
	ADDQ R8, R10
	DECQ BX
	JMP  dxPlane

dxDone:
	VZEROUPPER
	RET
