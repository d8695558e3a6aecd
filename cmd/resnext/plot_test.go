package main

import (
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resnext/resnext/train/metrics"
)

// writeMetrics writes the metrics file of a short made-up run: train records every 10 steps, an
// epoch and an eval record at the end of each of 3 epochs of 40 steps.
func writeMetrics(t *testing.T, path string) {
	t.Helper()
	w, err := metrics.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for step := 10; step <= 120; step += 10 {
		epoch := (step-1)/40 + 1
		loss := 2.3*math.Exp(-float64(step)/60) + 0.3
		if err := w.Write(metrics.Record{Time: t0.Add(time.Duration(step) * time.Second), Kind: metrics.KindTrain,
			Epoch: epoch, Step: step, Loss: metrics.F(loss), LR: metrics.F(0.1 * math.Cos(float64(step)/120*math.Pi/2))}); err != nil {
			t.Fatal(err)
		}
		if step%40 == 0 {
			for _, r := range []metrics.Record{
				{Kind: metrics.KindEpoch, Epoch: epoch, Step: step, Loss: metrics.F(loss + 0.1), Images: 1280},
				{Kind: metrics.KindEval, Epoch: epoch, Step: step, Loss: metrics.F(loss + 0.2),
					Top1: metrics.F(0.2 * float64(epoch)), Top5: metrics.F(0.3 + 0.2*float64(epoch)), Images: 500},
			} {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// runPlotCmd runs `resnext plot` with args.
func runPlotCmd(args ...string) error {
	cmd := newPlotCmd()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.Execute()
}

func TestPlotCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "metrics.jsonl")
	writeMetrics(t, in)
	cases := []struct {
		name          string
		args          []string
		out           string
		width, height int
	}{
		{"defaults", nil, "curves.png", metrics.DefaultPlotWidth, metrics.DefaultPlotHeight},
		{"sized", []string{"-o", "small.png", "--width", "800", "--height", "600", "--title", ""}, "small.png", 800, 600},
		{"fine", []string{"--output", "fine.PNG", "--width", "1600", "--height", "1400", "--dpi", "150", "--title", "run 7"}, "fine.PNG", 1600, 1400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.out)
			args := append([]string{in}, c.args...)
			if c.out == "curves.png" {
				t.Chdir(dir) // the default output goes to the working directory
			} else {
				for i, a := range args {
					if a == c.out {
						args[i] = out
					}
				}
			}
			if err := runPlotCmd(args...); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if b := img.Bounds(); b.Dx() != c.width || b.Dy() != c.height {
				t.Errorf("%s is %dx%d, want %dx%d", out, b.Dx(), b.Dy(), c.width, c.height)
			}
		})
	}
}

func TestPlotCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "metrics.jsonl")
	writeMetrics(t, good)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	invalid := filepath.Join(dir, "invalid.jsonl")
	os.WriteFile(invalid, []byte("not json\n{\"kind\":\"train\",\"step\":1}\n"), 0o644)
	noValues := filepath.Join(dir, "novalues.jsonl")
	os.WriteFile(noValues, []byte(`{"kind":"epoch","epoch":1,"step":10,"images":5}`+"\n"), 0o644)
	missing := filepath.Join(dir, "missing.jsonl")
	out := filepath.Join(dir, "out.png")

	cases := []struct {
		name string
		args []string
		want []string // in the error
	}{
		{"missing file", []string{missing, "-o", out}, []string{missing}},
		{"empty file", []string{empty, "-o", out}, []string{empty, "no records"}},
		{"invalid file", []string{invalid, "-o", out}, []string{invalid, "line 1"}},
		{"nothing to draw", []string{noValues, "-o", out}, []string{noValues, "no loss"}},
		{"not PNG", []string{good, "-o", filepath.Join(dir, "curves.svg")}, []string{"--output", "curves.svg", ".png"}},
		{"too narrow", []string{good, "-o", out, "--width", "10"}, []string{"--width 10"}},
		{"too tall", []string{good, "-o", out, "--height", "99999"}, []string{"--height 99999"}},
		{"bad dpi", []string{good, "-o", out, "--dpi", "0"}, []string{"--dpi 0"}},
		{"too small for the panels", []string{good, "-o", out, "--width", "480", "--height", "400"}, []string{good, "at least"}},
		{"unwritable output", []string{good, "-o", filepath.Join(dir, "nodir", "c.png")}, []string{filepath.Join(dir, "nodir")}},
		{"no file", nil, []string{"arg"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := runPlotCmd(c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written by a failing command", out)
	}
}
