// Package atomicfile writes files so that readers see either the old content or the whole new one,
// never a partial write: the content goes to a temporary file in the destination's directory, which
// is flushed, synced and renamed over the destination. Every file writer of the project that must
// not leave a torn file (checkpoints, arrays) uses it.
//
// A file that is replaced keeps its permissions (and, where the process may set them, its owner and
// group); a new file gets Mode. The temporary file is removed whenever Write does not complete,
// including when write panics. Temporary files of writes under way are also kept in a list, so that
// a command interrupted by a signal can remove them before it exits: RemovePending.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Mode is the permission of the files Write creates.
const Mode = 0o644

// ErrRemoved is returned by a Write whose temporary file RemovePending removed.
var ErrRemoved = errors.New("interrupted: the temporary file was removed")

// pending holds the temporary files of the writes under way.
var pending = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

// RemovePending removes the temporary files of every Write under way and returns their names, in
// sorted order, with the errors of the removals that failed. Those writes then fail with ErrRemoved
// and leave their destinations as they were; later writes are not affected. It is safe to call from
// any goroutine at any time, and is meant for a command's signal handler, just before the process
// exits because of the signal:
//
//	sigs := make(chan os.Signal, 1)
//	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
//	go func() {
//		s := <-sigs
//		atomicfile.RemovePending()
//		os.Exit(128 + int(s.(syscall.Signal)))
//	}()
//
// A command that goes on writing after a signal (train writes a last checkpoint) calls it only when
// it gives up, such as on a second signal.
func RemovePending() ([]string, error) {
	pending.Lock()
	defer pending.Unlock()
	names := slices.Sorted(maps.Keys(pending.names))
	var errs []error
	for _, name := range names {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	clear(pending.names)
	return names, errors.Join(errs...)
}

// Pending returns the names of the temporary files of the writes under way, in sorted order.
func Pending() []string {
	pending.Lock()
	defer pending.Unlock()
	return slices.Sorted(maps.Keys(pending.names))
}

// Write creates or replaces the file at path with what write puts into the writer it is given. The
// writer is buffered; write must not keep it. When write or any step after it fails (or write
// panics), the temporary file is removed, path is left as it was, and the error is returned, naming
// the file for failures of the file system (errors from write itself are returned unchanged).
func Write(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode, old := os.FileMode(Mode), os.FileInfo(nil)
	if info, serr := os.Stat(path); serr == nil && info.Mode().IsRegular() {
		mode = info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		old = info
	}
	pending.Lock()
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err == nil {
		pending.names[tmp.Name()] = true
	}
	pending.Unlock()
	if err != nil {
		return fmt.Errorf("creating a temporary file for %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			pending.Lock()
			if pending.names[tmp.Name()] {
				os.Remove(tmp.Name())
				delete(pending.names, tmp.Name())
			}
			pending.Unlock()
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if old != nil {
		chown(tmp, old) // best effort: only a privileged process may give a file away
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	// Rename under the lock, so that RemovePending either removes the file first or finds it gone.
	pending.Lock()
	if !pending.names[tmp.Name()] {
		pending.Unlock()
		return fmt.Errorf("writing %s: %w", path, ErrRemoved)
	}
	err = os.Rename(tmp.Name(), path)
	if err == nil {
		delete(pending.names, tmp.Name())
		done = true
	}
	pending.Unlock()
	if err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp.Name(), path, err)
	}
	// Make the rename durable; a directory that cannot be synced (some file systems) is not an error.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
