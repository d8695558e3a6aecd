//go:build unix

package atomicfile

import (
	"os"
	"syscall"
)

// chown gives f the owner and group of the file old describes, when the process may.
func chown(f *os.File, old os.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		if f.Chown(int(st.Uid), int(st.Gid)) != nil {
			f.Chown(-1, int(st.Gid)) // the group alone, for a member of it
		}
	}
}
