package ascend

import (
	"fmt"
	"strings"
	"unicode"
)

// socGen is the generation of an Ascend chip, which decides how some aclnn operators behave.
type socGen int

const (
	// socUnknown is a chip aclrtGetSocName did not name (or a runtime without the call): the backend
	// assumes the first generation's rules, the strictest.
	socUnknown socGen = iota
	// soc910 is the first-generation 910 (Atlas training series): no float32 cube path.
	soc910
	// soc910B is the 910B (Atlas A2).
	soc910B
	// soc910_93 is the 910_93 (Atlas A3), which behaves as the 910B for these operators.
	soc910_93
	// soc950 is the Ascend 950, whose regbase operators differ (aclnnMaxPool2dWithMask is withdrawn
	// there): not supported.
	soc950
)

// soc is the chip the backend runs on.
type soc struct {
	name string
	gen  socGen
}

// firstGen910 are the names aclrtGetSocName gives the first-generation 910. "Ascend910B" without a
// digit is one of them; the 910B (Atlas A2) parts are Ascend910B1 to Ascend910B4 and their variants.
var firstGen910 = []string{"Ascend910A", "Ascend910ProA", "Ascend910PremiumA", "Ascend910B", "Ascend910ProB"}

// socOf classifies a chip name.
func socOf(name string) soc {
	s := soc{name: name}
	switch {
	case name == "":
		s.gen = socUnknown
	case contains(firstGen910, name):
		s.gen = soc910
	case strings.HasPrefix(name, "Ascend910B") && len(name) > len("Ascend910B") && unicode.IsDigit(rune(name[len("Ascend910B")])):
		s.gen = soc910B
	case strings.HasPrefix(name, "Ascend910_93"):
		s.gen = soc910_93
	case strings.HasPrefix(name, "Ascend950") || strings.HasPrefix(name, "Ascend910_95"):
		s.gen = soc950
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// String names the chip and its generation, for logs.
func (s soc) String() string {
	switch s.gen {
	case soc910:
		return s.name + " (first-generation 910)"
	case soc910B:
		return s.name + " (910B)"
	case soc910_93:
		return s.name + " (910_93)"
	case soc950:
		return s.name + " (Ascend 950)"
	}
	if s.name == "" {
		return "unnamed chip (first-generation 910 rules)"
	}
	return s.name + " (not known: first-generation 910 rules)"
}

// supported says why the backend cannot run on the chip, or nil. On every chip it runs on,
// aclnnBatchNorm in training writes the biased batch variance into saveInvstd, on both of its paths
// (BatchNormV3 on the 910B with NCHW input and at least 64 channels, BNTrainingReduce/Update
// elsewhere), and aclnnBatchNormBackward reads saveInvstd as that variance with its own eps; only the
// Ascend 950 differs.
func (s soc) supported() error {
	if s.gen == soc950 {
		return fmt.Errorf("chip %s is not supported: its aclnn max pooling with a mask, which the backend is built on, is withdrawn there (aclnnMaxPool2dWithIndices replaces it)", s.name)
	}
	return nil
}

// defaultCube is the cube math type the backend passes for float32 when none is asked for: 1
// (ALLOW_FP32_DOWN_PRECISION) everywhere. The first-generation 910 has no float32 cube path and takes
// only 1 or 2 (float16); on the 910B and 910_93, 1 computes in HF32, and 0 (KEEP_DTYPE) with
// float32 is documented as not supported.
func (s soc) defaultCube() int8 { return 1 }

// checkCube says why a cube math type given by the user cannot be used with float32 on the chip.
func (s soc) checkCube(c int8) error {
	switch {
	case c < 0 || c > 3:
		return fmt.Errorf("cube math type %d: want 1 (ALLOW_FP32_DOWN_PRECISION), 2 (USE_FP16) or 3 (USE_HF32)", c)
	case (s.gen == soc910 || s.gen == socUnknown) && c != 1 && c != 2:
		return fmt.Errorf("cube math type %d is not supported with float32 on %v: it has no float32 cube path; use 1 (ALLOW_FP32_DOWN_PRECISION, computed in float16) or 2 (USE_FP16)", c, s)
	case c == 0:
		return fmt.Errorf("cube math type 0 (KEEP_DTYPE) with float32 is documented as not supported on %v; use 1 or 3 (HF32) or 2 (float16)", s)
	}
	return nil
}
