//go:build cgo

package acl

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/acl/testruntime"
)

// buildFake compiles C source into dir/libascendcl.so and links the other two names to it, as the
// test runtime is laid out.
func buildFake(t *testing.T, src string) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	dir := t.TempDir()
	cfile := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(cfile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, libACL)
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, cfile).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	for _, n := range []string{libNNOpBase, libOpAPI} {
		if err := os.Symlink(libACL, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadNoLibraries(t *testing.T) {
	empty := t.TempDir()
	_, err := load(planFromEnv(func(k string) string {
		switch k {
		case EnvLibDir:
			return empty
		case EnvToolkitHome:
			return t.TempDir()
		}
		return ""
	}))
	var le *LoadError
	if !errors.As(err, &le) || le.Library != libACL+" (or "+libACLRT+")" {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"libascendcl.so (or libacl_rt.so) not found in " + empty, EnvLibDir} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func TestLoadNoLibrariesToolkitHome(t *testing.T) {
	home := t.TempDir()
	p := planFromEnv(func(k string) string {
		if k == EnvToolkitHome {
			return home
		}
		return ""
	})
	p.useDefault = false // the machine might have a CANN in the default path
	_, err := load(p)
	if err == nil {
		t.Fatal("loaded from an empty toolkit home")
	}
	msg := err.Error()
	for _, want := range []string{"libascendcl.so (or libacl_rt.so) not found in " + filepath.Join(home, "lib64"),
		filepath.Join(home, archDir()+"-linux", "lib64"), "install the CANN toolkit or set ASCEND_TOOLKIT_HOME"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	// Load reads RESNEXT_ACL_LIB_DIR; LoadDir is its uncached form.
	_, err := LoadDir(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "libascendcl.so (or libacl_rt.so) not found") {
		t.Fatalf("LoadDir: %v", err)
	}
}

func TestLoadMissingSymbol(t *testing.T) {
	dir := buildFake(t, "int aclInit(const char *p) { (void)p; return 0; }\n")
	_, err := LoadDir(dir)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v", err)
	}
	if le.Symbol != "aclFinalize" || le.Library != libACL || le.Path != filepath.Join(dir, libACL) {
		t.Errorf("got %+v", le)
	}
	if msg := err.Error(); !strings.Contains(msg, "symbol aclFinalize not found in "+filepath.Join(dir, libACL)) {
		t.Errorf("message %q", msg)
	}
}

func TestLoadBadLibrary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, libACL), []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "cannot load "+filepath.Join(dir, libACL)) {
		t.Fatalf("got %v", err)
	}
}

// Newer CANN may ship the runtime as libacl_rt.so alone: the loader takes it where libascendcl.so
// is absent, and names both when neither is there.
func TestLoadACLRuntimeName(t *testing.T) {
	built := testruntime.Build(t)
	dir := t.TempDir()
	for _, name := range []string{libACLRT, libNNOpBase, libOpAPI} {
		if err := os.Symlink(filepath.Join(built, testruntime.LibNames[0]), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := l.Paths(); len(p) == 0 || filepath.Base(p[0]) != libACLRT {
		t.Errorf("loaded %v, want %s first", p, libACLRT)
	}
	if err := os.Remove(filepath.Join(dir, libACLRT)); err != nil {
		t.Fatal(err)
	}
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), libACL+" (or "+libACLRT+") not found in "+dir) {
		t.Errorf("neither runtime library: got %v", err)
	}
}
