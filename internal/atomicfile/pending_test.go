package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeepsMode: replacing a file keeps its permissions (a replaced file once became 0644).
func TestKeepsMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o755, 0o640} {
		path := filepath.Join(t.TempDir(), "f.bin")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("mode after replacing a %v file = %v", mode, st.Mode().Perm())
		}
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestPanicRemovesTemporary: a write function that panics leaves no temporary file.
func TestPanicRemovesTemporary(t *testing.T) {
	dir := t.TempDir()
	func() {
		defer func() { recover() }()
		Write(filepath.Join(dir, "f.bin"), func(w io.Writer) error { panic("boom") })
	}()
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing", names)
	}
	if p := Pending(); len(p) != 0 {
		t.Errorf("pending %v after the write", p)
	}
}

// TestRemovePending: RemovePending removes the temporary file of a write under way, which then
// fails with ErrRemoved and leaves the destination as it was.
func TestRemovePending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- Write(path, func(w io.Writer) error {
			io.WriteString(w, strings.Repeat("x", 3<<20))
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	p := Pending()
	if len(p) != 1 || filepath.Dir(p[0]) != dir {
		t.Fatalf("pending %v, want one temporary file in %s", p, dir)
	}
	removed, err := RemovePending()
	if err != nil || len(removed) != 1 || removed[0] != p[0] {
		t.Fatalf("RemovePending = %v, %v; want %v", removed, err, p)
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "f.bin" {
		t.Errorf("directory holds %v after RemovePending, want f.bin alone", names)
	}
	close(release)
	if err := <-result; !errors.Is(err, ErrRemoved) {
		t.Errorf("Write = %v, want ErrRemoved", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("content %.10q, want the old content", got)
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want f.bin alone", names)
	}
	// Later writes are not affected.
	if err := Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestSignalLeavesNoTemporary is the reproducer of a temporary file left behind by a command
// stopped by SIGINT or SIGTERM in the middle of a write: a child process writes, is signalled, and
// its handler calls RemovePending before it exits.
func TestSignalLeavesNoTemporary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	if dir := os.Getenv("ATOMICFILE_CHILD_DIR"); dir != "" {
		childWrite(dir)
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSignalLeavesNoTemporary$")
		cmd.Env = append(os.Environ(), "ATOMICFILE_CHILD_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "writing\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q", line)
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("before the signal the directory holds %v, want a temporary file", names)
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 128+int(sig) {
				t.Errorf("%v: child exited with %v, want status %d", sig, err, 128+int(sig))
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: the child did not exit", sig)
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("%v: the directory holds %v after the signal, want nothing", sig, names)
		}
	}
}

// childWrite is the child of TestSignalLeavesNoTemporary: a command's signal handler as
// RemovePending's documentation shows it, and a write that never ends.
func childWrite(dir string) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		RemovePending()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	Write(filepath.Join(dir, "f.bin"), func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("x", 3<<20))
		os.Stdout.WriteString("writing\n")
		time.Sleep(time.Hour)
		return nil
	})
}
