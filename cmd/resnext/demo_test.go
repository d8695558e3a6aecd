package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestDemoLearns trains resnext14_small for one epoch on half of the embedded Fashion-MNIST sample
// and checks that it learned: the loss fell and validation accuracy is far above chance (10%).
func TestDemoLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	o := demoOptions{model: "resnext14_small", epochs: 1, batchSize: 32, trainSize: 1024, lr: 0.1, momentum: 0.9, weightDecay: 1e-4, smoothing: 0.1,
		seed: 42, logInterval: 10, logFormat: "console", device: deviceOptions{target: "cpu"}}
	res, err := runDemo(o, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("steps %d, loss %.3f -> %.3f, val top-1 %.3f, %.0f img/s", res.steps, res.firstLoss, res.endLoss, res.valAccuracy, res.imagesPerSecond)
	if res.steps != 32 {
		t.Errorf("ran %d steps, want 1024/32 = 32", res.steps)
	}
	if res.endLoss > 0.8*res.firstLoss {
		t.Errorf("loss fell only from %.3f to %.3f", res.firstLoss, res.endLoss)
	}
	if res.valAccuracy < 0.5 {
		t.Errorf("validation accuracy %.3f after one epoch, want at least 0.5", res.valAccuracy)
	}
}

func TestDemoRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--epochs", "0"},
		{"demo", "--batch_size", "4096"},
		{"demo", "--data_dir", "/nonexistent"},
		{"demo", "--log_format", "xml"},
		{"demo", "--model", "nonet"},
		{"demo", "--model", "resnext50_32x4d"},
	} {
		root := newRoot()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		err := root.Execute()
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "panic") || len(strings.Split(msg, "\n")) > 1 {
			t.Errorf("%v: want one clear line, got %q", args, msg)
		}
	}
}

func TestVersion(t *testing.T) {
	root := newRoot()
	var out bytes.Buffer
	root.SetArgs([]string{"version"})
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	// Both backends are listed; Ascend either opens or says why it cannot.
	if s := out.String(); !strings.HasPrefix(s, "resnext ") || !strings.Contains(s, "backends: ascend, cpu") ||
		!strings.Contains(s, "threads") || !strings.Contains(s, "\n  ascend: ") {
		t.Errorf("version printed %q", s)
	}
}
