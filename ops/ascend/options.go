package ascend

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
)

func init() {
	ops.Register("ascend", func() (ops.Backend, error) { return New(Options{Device: -1}) })
}

// Options configure an Ascend backend.
type Options struct {
	// Device is the card to use; a negative value means $DEVICE_ID, or 0 when that is unset.
	Device int
	// Lib is the loaded CANN library set; nil means acl.Load (which honours RESNEXT_ACL_LIB_DIR and
	// ASCEND_TOOLKIT_HOME).
	Lib *acl.Lib
	// MemoryLimit caps the device memory the backend holds, in bytes; 0 means the device's own.
	MemoryLimit uint64
	// CubeMathType is aclnn's cube unit mode for convolutions and matrix products: 1
	// ALLOW_FP32_DOWN_PRECISION, 2 USE_FP16, 3 USE_HF32 (0, KEEP_DTYPE, is not supported with float32 on
	// any 910: the first generation has no float32 cube path, and the 910B documents it as not
	// supported). Unset means 1: float16 on the first-generation 910, HF32 on the 910B. The first
	// generation takes only 1 or 2.
	CubeMathType int8
	// CubeMathTypeSet marks CubeMathType as given (so that an explicit 0 is refused rather than taken
	// as unset).
	CubeMathTypeSet bool
	// NoExecutorCache makes every aclnn call run both phases, as when CANN lacks repeatable
	// executors, instead of replaying kept executors (to measure what the cache saves).
	NoExecutorCache bool
	// NoFlatOptimizer makes the group optimizer step (ops.SGDMomentumGroup) run per parameter
	// instead of over parameters packed in flat buffers (to measure what packing saves).
	NoFlatOptimizer bool
}

// EnvDeviceID is the environment variable that picks the card when Options.Device is negative, as
// MindSpore and torch_npu read it.
const EnvDeviceID = "DEVICE_ID"

// DeviceFromEnv is the card $DEVICE_ID names, 0 when unset.
func DeviceFromEnv() (int, error) {
	v := strings.TrimSpace(os.Getenv(EnvDeviceID))
	if v == "" {
		return 0, nil
	}
	id, err := strconv.Atoi(v)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("ascend: %s=%q: want a card number (0, 1, ...)", EnvDeviceID, v)
	}
	return id, nil
}
