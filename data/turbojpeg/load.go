//go:build cgo

package turbojpeg

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// Lib is one loaded libturbojpeg. It is safe for concurrent use; the library stays loaded for the life
// of the process.
type Lib struct {
	c      *C.tjx_lib // C memory: the symbol table the wrappers read
	name   string     // the name or path dlopen was given
	scales [9]bool    // scales[s]: the library offers the factor 1/s
}

// loadDefault is Load's search, run once.
var loadDefault = sync.OnceValues(func() (*Lib, error) { return load(candidates(os.Getenv)) })

// Load finds and loads libturbojpeg once per process and returns it; later calls return the same
// result. It tries the file $RESNEXT_TURBOJPEG_LIB alone when that is set, else "libturbojpeg.so.0"
// then "libturbojpeg.so" through the dynamic loader's search path. The error, a *LoadError, names
// what was tried and why each failed, and how to install the library.
func Load() (*Lib, error) { return loadDefault() }

// load tries names in order and binds the first that opens and has the TurboJPEG 2 symbols.
func load(names []string, hint string) (*Lib, error) {
	e := &LoadError{Hint: hint}
	for _, name := range names {
		l, reason := open(name)
		if l != nil {
			return l, nil
		}
		e.Tried = append(e.Tried, name)
		e.Reasons = append(e.Reasons, reason)
	}
	return nil, e
}

// open dlopens name and binds its symbols; on failure it returns why.
func open(name string) (*Lib, string) {
	var errbuf [512]C.char
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	h := C.tjx_dlopen(cn, &errbuf[0], C.size_t(len(errbuf)))
	if h == nil {
		return nil, C.GoString(&errbuf[0])
	}
	// C memory, so the wrappers may read it at any time; kept, like the library, for the process's life.
	table := (*C.tjx_lib)(C.calloc(1, C.size_t(unsafe.Sizeof(C.tjx_lib{}))))
	table.api = 3
	for i := 0; i < int(C.TJX_NSYM); i++ {
		sym := C.tjx_dlsym(h, C.tjx_sym_name(C.int(i)), &errbuf[0], C.size_t(len(errbuf)))
		if sym == nil {
			if C.tjx_sym_api(C.int(i)) == 2 {
				C.free(unsafe.Pointer(table))
				return nil, "not a TurboJPEG library of libjpeg-turbo 1.4 or later: " + C.GoString(&errbuf[0])
			}
			table.api = 2 // a tj3 function is missing: libjpeg-turbo before 3.0
		}
		table.sym[i] = sym
	}
	l := &Lib{c: table, name: name}
	var nums, denoms [32]C.int
	n := int(C.tjx_scaling_factors(table, &nums[0], &denoms[0], C.int(len(nums))))
	for i := 0; i < n && i < len(nums); i++ {
		for _, s := range []int{1, 2, 4, 8} {
			if int(denoms[i]) == s*int(nums[i]) {
				l.scales[s] = true
			}
		}
	}
	return l, ""
}

// API is the TurboJPEG API generation in use: 3 when the library has the tj3 functions
// (libjpeg-turbo 3.0 and later), else 2.
func (l *Lib) API() int { return int(l.c.api) }

// String names the library and the API in use, as in "libturbojpeg.so.0 (TurboJPEG 2 API)".
func (l *Lib) String() string {
	return fmt.Sprintf("%s (TurboJPEG %d API)", l.name, l.API())
}

// withAPI2 returns a Lib sharing l's library that uses the TurboJPEG 2 functions even where the
// tj3 ones exist, so tests can run both paths against one libjpeg-turbo 3.
func (l *Lib) withAPI2() *Lib {
	table := (*C.tjx_lib)(C.calloc(1, C.size_t(unsafe.Sizeof(C.tjx_lib{}))))
	*table = *l.c
	table.api = 2
	return &Lib{c: table, name: l.name, scales: l.scales}
}
