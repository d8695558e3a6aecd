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
	// CubeMathType is aclnn's cube unit mode for convolutions and matrix products: 0 KEEP_DTYPE,
	// 1 ALLOW_FP32_DOWN_PRECISION, 2 USE_FP16, 3 USE_HF32. The default, -1, means 1: first-generation
	// 910 has no float32 cube path, and 910B then computes float32 in HF32. Use 0 on 910B for full
	// float32 precision.
	CubeMathType int8
	// CubeMathTypeSet marks CubeMathType as given (so that 0 can be asked for).
	CubeMathTypeSet bool
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
