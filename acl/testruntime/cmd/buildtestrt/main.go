// Command buildtestrt builds the test runtime (package testruntime) into a directory for use
// outside the tests: libascendcl.so, the links libnnopbase.so, libopapi.so and libhccl.so to it, and
// the sources under src/. Point the acl loader at it with RESNEXT_ACL_LIB_DIR.
//
//	go run ./acl/testruntime/cmd/buildtestrt DIR
//
// It prints the directory, and the compiler's diagnostics when there are any. scripts/build_testruntime.sh
// runs it.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resnext/resnext/acl/testruntime"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: buildtestrt DIR")
		os.Exit(2)
	}
	dir, err := filepath.Abs(os.Args[1])
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildtestrt:", err)
		os.Exit(1)
	}
	diag, err := testruntime.BuildInto(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildtestrt:", err)
		os.Exit(1)
	}
	if d := strings.TrimSpace(diag); d != "" {
		fmt.Fprintln(os.Stderr, d)
	}
	fmt.Println(dir)
}
