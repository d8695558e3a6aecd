package ops

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Opener creates a backend. Backends register one in their package's init.
type Opener func() (Backend, error)

var registry struct {
	sync.Mutex
	m map[string]Opener
}

// Register makes a backend available to Open under name. Registering a name twice panics.
func Register(name string, open Opener) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = map[string]Opener{}
	}
	if _, dup := registry.m[name]; dup {
		panic("ops.Register: backend " + name + " registered twice")
	}
	registry.m[name] = open
}

// Open creates the backend registered as name (case-insensitive). The backend's package must be
// linked in, usually by a blank import (import _ ".../ops/cpu").
func Open(name string) (Backend, error) {
	registry.Lock()
	open, ok := registry.m[strings.ToLower(name)]
	registry.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown backend %q: available: %s", name, strings.Join(Backends(), ", "))
	}
	b, err := open()
	if err != nil {
		return nil, fmt.Errorf("open backend %s: %w", name, err)
	}
	return b, nil
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
