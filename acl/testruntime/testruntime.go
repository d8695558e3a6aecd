// Package testruntime builds the test runtime: a C library that exports the subset of the CANN
// runtime (libascendcl.so), aclnn base (libnnopbase.so), aclnn operator (libopapi.so) and HCCL
// (libhccl.so) symbols the project uses, over host memory, with reference math and checks of the
// calling contract; its HCCL meets the ranks of a communicator across processes.
//
// Machines without an Ascend device or CANN toolkit (CI among them) point the acl package's loader at
// the directory Build returns, through RESNEXT_ACL_LIB_DIR. The library is never loaded otherwise.
// The C sources live in csrc/ and are embedded, so Build works from any package's tests; README.md
// describes the semantics, the contract checks and the environment variables.
package testruntime

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

//go:embed csrc/*.c csrc/*.h
var sources embed.FS

// LibNames are the file names Build creates in its directory, one per CANN library: the runtime,
// aclnn's base and operators, and HCCL. All but the first are symbolic links to the first, so that
// loading the four names loads one instance of the runtime.
var LibNames = []string{"libascendcl.so", "libnnopbase.so", "libopapi.so", "libhccl.so"}

// SrcDir is the subdirectory of a build directory that holds the C sources, among them testrt.h, the
// header test programs include.
const SrcDir = "src"

// Compiler returns the C compiler Build uses: $CC when set, gcc otherwise, or an error saying it
// is missing.
func Compiler() (string, error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		return "", fmt.Errorf("testruntime: C compiler %q not found (set CC or install gcc): %w", cc, err)
	}
	return path, nil
}

// BuildInto writes the C sources to dir/src, compiles them into dir/libascendcl.so and links the
// other library names to it. It returns the compiler's diagnostics (empty when it printed none).
func BuildInto(dir string) (diagnostics string, err error) {
	cc, err := Compiler()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, SrcDir)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("testruntime: %w", err)
	}
	names, err := fs.Glob(sources, "csrc/*")
	if err != nil {
		return "", fmt.Errorf("testruntime: %w", err)
	}
	args := []string{"-std=gnu11", "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-o", filepath.Join(dir, LibNames[0])}
	for _, name := range names {
		b, err := sources.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("testruntime: %w", err)
		}
		out := filepath.Join(src, filepath.Base(name))
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return "", fmt.Errorf("testruntime: %w", err)
		}
		if strings.HasSuffix(name, ".c") {
			args = append(args, out)
		}
	}
	args = append(args, "-lm", "-lpthread")
	cmd := exec.Command(cc, args...)
	output, err := cmd.CombinedOutput()
	if err != nil {
		return string(output), fmt.Errorf("testruntime: compiling the library: %w\n%s", err, output)
	}
	for _, name := range LibNames[1:] {
		link := filepath.Join(dir, name)
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return string(output), fmt.Errorf("testruntime: %w", err)
		}
		if err := os.Symlink(LibNames[0], link); err != nil {
			return string(output), fmt.Errorf("testruntime: %w", err)
		}
	}
	return string(output), nil
}

// Build compiles the test runtime into a temporary directory of t and returns the directory, which
// holds the four library names (see LibNames) and the sources under SrcDir. It skips t when no C
// compiler is installed and fails it when the build fails.
func Build(t testing.TB) (dir string) {
	t.Helper()
	if _, err := Compiler(); err != nil {
		t.Skipf("skipping: the Ascend test runtime needs a C compiler: %v", err)
	}
	dir = t.TempDir()
	if _, err := BuildInto(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
