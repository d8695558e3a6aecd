package main

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestDeviceTarget: with no CANN libraries to be found, --device_target Ascend fails with one line
// that names the missing library, auto runs on the CPU and says why in the log, and a target that
// does not exist is refused.
func TestDeviceTarget(t *testing.T) {
	t.Setenv("RESNEXT_ACL_LIB_DIR", t.TempDir()) // an empty folder: nothing to load
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)

	_, err := deviceOptions{target: "Ascend"}.open(log)
	if err == nil {
		t.Fatal("--device_target Ascend opened a backend with no CANN libraries")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "--device_target Ascend") ||
		!(strings.Contains(msg, "libascendcl.so") || strings.Contains(msg, "cgo")) {
		t.Errorf("error is not one line naming what is missing: %q", msg)
	}

	b, err := deviceOptions{target: "auto", threads: 1}.open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Name() != "cpu" {
		t.Errorf("auto chose %s, want cpu", b.Name())
	}
	if logs.FilterMessage("Ascend is not usable here, running on the CPU").Len() != 1 {
		t.Errorf("auto did not log the fallback: %v", logs.All())
	}

	b2, err := deviceOptions{target: "cpu"}.open(log)
	if err != nil || b2.Name() != "cpu" {
		t.Fatalf("cpu: %v", err)
	}
	b2.Close()
	if _, err := (deviceOptions{target: "GPU"}).open(log); err == nil || !strings.Contains(err.Error(), "want Ascend, CPU or auto") {
		t.Errorf("GPU: %v", err)
	}
}
