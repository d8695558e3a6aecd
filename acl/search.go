package acl

import (
	"os"
	"path/filepath"
	"runtime"
)

// Environment variables the loader reads.
const (
	// EnvLibDir names one directory holding every library (libascendcl.so, libnnopbase.so and
	// libopapi.so or its split parts). When set, only that directory is searched: it is meant for
	// tests (the test runtime in acl/testruntime) and for unusual installations.
	EnvLibDir = "RESNEXT_ACL_LIB_DIR"
	// EnvToolkitHome is the CANN toolkit root set by the toolkit's set_env.sh.
	EnvToolkitHome = "ASCEND_TOOLKIT_HOME"
)

// DefaultToolkitHome is where the CANN toolkit installs by default.
const DefaultToolkitHome = "/usr/local/Ascend/ascend-toolkit/latest"

// defaultSearchPath stands for dlopen's own search (LD_LIBRARY_PATH, ld.so.cache, system dirs).
const defaultSearchPath = "the default library search path"

// Library file names.
const (
	libACL = "libascendcl.so"
	// libACLRT is the runtime library of newer CANN releases, which may ship it without
	// libascendcl.so.
	libACLRT    = "libacl_rt.so"
	libNNOpBase = "libnnopbase.so"
	libOpAPI    = "libopapi.so"
	// libHCCL is the collective communication library, optional: without it one device works.
	libHCCL = "libhccl.so"
)

// libOpAPISplit are the op libraries of the packages that split libopapi.so.
var libOpAPISplit = []string{"libopapi_nn.so", "libopapi_math.so"}

// searchPlan is where the loader looks: dirs in order, then dlopen's default search unless
// useDefault is false (an explicit RESNEXT_ACL_LIB_DIR).
type searchPlan struct {
	dirs       []string
	useDefault bool
	override   bool
}

// planFromEnv builds the search plan from the environment through getenv.
func planFromEnv(getenv func(string) string) searchPlan {
	if d := getenv(EnvLibDir); d != "" {
		return searchPlan{dirs: []string{d}, override: true}
	}
	var dirs []string
	add := func(root string) {
		if root == "" {
			return
		}
		for _, d := range []string{
			filepath.Join(root, "lib64"),
			filepath.Join(root, archDir()+"-linux", "lib64"),
		} {
			if !contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	add(getenv(EnvToolkitHome))
	add(DefaultToolkitHome)
	return searchPlan{dirs: dirs, useDefault: true}
}

// searched is the list of places for error messages.
func (p searchPlan) searched() []string {
	s := append([]string(nil), p.dirs...)
	if p.useDefault {
		s = append(s, defaultSearchPath)
	}
	return s
}

// find returns the first dir/name that exists, or "".
func (p searchPlan) find(name string) string {
	for _, d := range p.dirs {
		f := filepath.Join(d, name)
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			return f
		}
	}
	return ""
}

func (p searchPlan) hint() string {
	if p.override {
		return "put the CANN libraries (or the test runtime) in " + EnvLibDir + ", or unset it"
	}
	return "install the CANN toolkit or set " + EnvToolkitHome + " (source set_env.sh)"
}

// archDir is the CANN name of the host architecture, as in <root>/<arch>-linux/lib64.
func archDir() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64"
	case "amd64":
		return "x86_64"
	}
	return runtime.GOARCH
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
