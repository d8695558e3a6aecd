//go:build cgo

package acl

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

// Lib is one loaded CANN installation: the three libraries and the symbols this package binds. It is
// safe for concurrent use. Libraries stay loaded for the life of the process.
type Lib struct {
	c        *C.rx_lib // C memory: the symbol table the wrappers read
	paths    [C.RX_NLIB][]string
	optional map[string]bool
	initMu   sync.Mutex
	inited   bool
	// finalized: aclFinalize was called; aclInit cannot be again.
	finalized bool
	// hcclErr says why HCCL cannot be used (libhccl.so missing, rejected or lacking a symbol); nil
	// when it loaded.
	hcclErr error
}

var (
	loadOnce sync.Once
	loadLib  *Lib
	loadErr  error
)

// Load finds and loads the CANN libraries once per process and returns them; later calls return the
// same result. It looks in $RESNEXT_ACL_LIB_DIR alone when that is set; otherwise in
// $ASCEND_TOOLKIT_HOME/lib64, $ASCEND_TOOLKIT_HOME/<arch>-linux/lib64, the same two under
// /usr/local/Ascend/ascend-toolkit/latest, then the default library search path. The error (a
// *LoadError) names the library or symbol that is missing and where it looked. Load does not
// initialise the runtime: call Init (or use Available).
func Load() (*Lib, error) {
	loadOnce.Do(func() {
		loadLib, loadErr = load(planFromEnv(os.Getenv))
	})
	return loadLib, loadErr
}

// LoadDir loads the libraries from one directory, as Load does with RESNEXT_ACL_LIB_DIR set, without
// touching Load's cached result. It is meant for tests. Loading the same files twice maps them once.
func LoadDir(dir string) (*Lib, error) {
	return load(searchPlan{dirs: []string{dir}, override: true})
}

// openLib dlopens name from the plan: the first directory holding it, else (if allowed) dlopen's
// default search. found is false, with a nil error, when the name is nowhere.
func openLib(p searchPlan, name string) (h unsafe.Pointer, path string, found bool, err error) {
	var errbuf [512]C.char
	if f := p.find(name); f != "" {
		cf := C.CString(f)
		defer C.free(unsafe.Pointer(cf))
		h = C.rx_dlopen(cf, &errbuf[0], C.size_t(len(errbuf)))
		if h == nil {
			return nil, f, true, &LoadError{Library: name, Path: f, Reason: C.GoString(&errbuf[0]),
				Hint: "the file exists but the dynamic loader rejected it; check its dependencies (ldd) and " + p.hint()}
		}
		return h, f, true, nil
	}
	if !p.useDefault {
		return nil, "", false, nil
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	h = C.rx_dlopen(cn, &errbuf[0], C.size_t(len(errbuf)))
	if h == nil {
		return nil, "", false, nil
	}
	return h, name, true, nil
}

func load(p searchPlan) (*Lib, error) {
	type opened struct {
		h    unsafe.Pointer
		path string
	}
	var libs [C.RX_NLIB][]opened
	need := func(idx int, name string) error {
		h, path, found, err := openLib(p, name)
		if err != nil {
			return err
		}
		if !found {
			return &LoadError{Library: name, Searched: p.searched(), Hint: p.hint()}
		}
		libs[idx] = append(libs[idx], opened{h, path})
		return nil
	}
	// The runtime: libascendcl.so, else libacl_rt.so (newer CANN may ship only the latter).
	if err := need(C.RX_LIB_ACL, libACL); err != nil {
		if !notFound(err) {
			return nil, err
		}
		if err := need(C.RX_LIB_ACL, libACLRT); err != nil {
			if notFound(err) {
				return nil, &LoadError{Library: libACL + " (or " + libACLRT + ")", Searched: p.searched(), Hint: p.hint()}
			}
			return nil, err
		}
	}
	if err := need(C.RX_LIB_NNOPBASE, libNNOpBase); err != nil {
		return nil, err
	}
	// The ops: libopapi.so, else whichever split parts exist.
	h, path, found, err := openLib(p, libOpAPI)
	if err != nil {
		return nil, err
	}
	if found {
		libs[C.RX_LIB_OPAPI] = append(libs[C.RX_LIB_OPAPI], opened{h, path})
	} else {
		for _, name := range libOpAPISplit {
			h, path, found, err := openLib(p, name)
			if err != nil {
				return nil, err
			}
			if found {
				libs[C.RX_LIB_OPAPI] = append(libs[C.RX_LIB_OPAPI], opened{h, path})
			}
		}
		if len(libs[C.RX_LIB_OPAPI]) == 0 {
			return nil, &LoadError{Library: libOpAPI + " (or " + libOpAPISplit[0] + " and " + libOpAPISplit[1] + ")",
				Searched: p.searched(), Hint: p.hint()}
		}
	}

	// HCCL: optional. Without it one device still works; the error is kept for the HCCL calls.
	var hcclErr error
	if err := need(C.RX_LIB_HCCL, libHCCL); err != nil {
		hcclErr = err
		if le, ok := err.(*LoadError); ok && notFound(err) {
			le.Hint = "HCCL (multi-device training) ships with the CANN toolkit; one device works without it; " + p.hint()
		}
	}

	// C memory, so the C wrappers may read it at any time; kept for the process's life like the libraries.
	table := (*C.rx_lib)(C.calloc(1, C.size_t(unsafe.Sizeof(C.rx_lib{}))))
	l := &Lib{c: table, optional: map[string]bool{}, hcclErr: hcclErr}
	for i := range libs {
		for _, o := range libs[i] {
			l.paths[i] = append(l.paths[i], o.path)
		}
	}
	var errbuf [512]C.char
	for i := 0; i < int(C.RX_NSYM); i++ {
		name := C.rx_sym_name(C.int(i))
		lib := int(C.rx_sym_lib(C.int(i)))
		opt := C.rx_sym_optional(C.int(i)) != 0
		var sym unsafe.Pointer
		for _, o := range libs[lib] {
			if sym = C.rx_dlsym(o.h, name, &errbuf[0], C.size_t(len(errbuf))); sym != nil {
				break
			}
		}
		goName := C.GoString(name)
		if opt {
			l.optional[goName] = sym != nil
		}
		if lib == int(C.RX_LIB_HCCL) && sym == nil && !opt {
			// A libhccl.so without one of the symbols: HCCL is unavailable, the rest loads.
			if l.hcclErr == nil {
				l.hcclErr = &LoadError{Symbol: goName, Library: libHCCL, Path: joinPaths(l.paths[lib]),
					Reason: C.GoString(&errbuf[0]), Hint: "this HCCL is too old or the installation is incomplete; " + p.hint()}
			}
			continue
		}
		if sym == nil && !opt {
			C.free(unsafe.Pointer(table))
			e := &LoadError{Symbol: goName, Library: libNames(lib, l.paths[lib]), Reason: C.GoString(&errbuf[0]),
				Hint: "this CANN version is too old or the installation is incomplete; " + p.hint()}
			if len(libs[lib]) == 1 {
				e.Path = libs[lib][0].path
			} else {
				e.Path = joinPaths(l.paths[lib])
			}
			return nil, e
		}
		table.sym[i] = sym
	}
	return l, nil
}

// notFound reports whether err is a LoadError for a library that is nowhere to be found (not one
// that was found and rejected).
func notFound(err error) bool {
	var le *LoadError
	return errors.As(err, &le) && le.Path == "" && le.Symbol == ""
}

// libNames names library idx in messages: the runtime by the file loaded (paths), the others by
// their names.
func libNames(idx int, paths []string) string {
	switch idx {
	case int(C.RX_LIB_ACL):
		if len(paths) == 1 {
			return filepath.Base(paths[0])
		}
		return libACL
	case int(C.RX_LIB_NNOPBASE):
		return libNNOpBase
	case int(C.RX_LIB_HCCL):
		return libHCCL
	}
	return libOpAPI
}

func joinPaths(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += " and "
		}
		s += x
	}
	return s
}

// Paths lists the files loaded: libascendcl, libnnopbase, the op libraries, then libhccl when it
// was found.
func (l *Lib) Paths() []string {
	var s []string
	for _, p := range l.paths {
		s = append(s, p...)
	}
	return s
}

// Has reports whether the optional symbol name (aclSetAclOpExecutorRepeatable, aclSetInputTensorAddr,
// aclSetOutputTensorAddr, aclSetRawTensorAddr) exists in this CANN. Required symbols always exist in
// a loaded Lib, so Has returns true for them.
func (l *Lib) Has(name string) bool {
	if v, ok := l.optional[name]; ok {
		return v
	}
	for i := 0; i < int(C.RX_NSYM); i++ {
		if C.GoString(C.rx_sym_name(C.int(i))) == name {
			return true
		}
	}
	return false
}

// CanReuseExecutors reports whether executors can be made repeatable and rebound to new addresses.
func (l *Lib) CanReuseExecutors() bool {
	return l.Has("aclSetAclOpExecutorRepeatable") && l.Has("aclSetInputTensorAddr") && l.Has("aclSetOutputTensorAddr")
}

var (
	availOnce sync.Once
	availErr  error
)

// Available reports whether Ascend can be used: the libraries load, the runtime initialises and there
// is at least one device. The result is computed once. A nil error means Load's Lib is initialised.
func Available() error {
	availOnce.Do(func() {
		l, err := Load()
		if err != nil {
			availErr = err
			return
		}
		if err := l.Init(); err != nil {
			availErr = err
			return
		}
		n, err := l.DeviceCount()
		if err != nil {
			availErr = err
			return
		}
		if n == 0 {
			availErr = errors.New("acl: aclrtGetDeviceCount reports no Ascend device (check the driver with npu-smi info, and ASCEND_RT_VISIBLE_DEVICES)")
		}
	})
	return availErr
}
