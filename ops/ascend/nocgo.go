//go:build !cgo

package ascend

import (
	"fmt"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
)

// New reports that the Ascend backend needs a cgo build.
func New(o Options) (ops.Backend, error) { return nil, fmt.Errorf("ascend: %w", acl.ErrNoCgo) }
