//go:build !cgo

package acl

// Lib is a loaded CANN installation. Without cgo none can be loaded.
type Lib struct{}

// Load reports that Ascend needs a cgo build.
func Load() (*Lib, error) { return nil, ErrNoCgo }

// LoadDir reports that Ascend needs a cgo build.
func LoadDir(dir string) (*Lib, error) { return nil, ErrNoCgo }

// Available reports that Ascend needs a cgo build.
func Available() error { return ErrNoCgo }

// Shutdown does nothing: without cgo no runtime was initialised.
func Shutdown() error { return nil }
