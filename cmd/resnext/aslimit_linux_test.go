package main

import (
	"os"
	"strconv"
	"syscall"
)

// limitAddressSpace caps this process's address space at $RESNEXT_TEST_AS_LIMIT_MB MiB when it is
// set: a command the tests run under it that tries to allocate more fails as it would on a machine
// with that much memory, which the tests then see (a fatal error rather than a swapping machine).
func limitAddressSpace() {
	mb, err := strconv.ParseUint(os.Getenv("RESNEXT_TEST_AS_LIMIT_MB"), 10, 64)
	if err != nil || mb == 0 {
		return
	}
	lim := &syscall.Rlimit{Cur: mb << 20, Max: mb << 20}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
		panic(err)
	}
}
