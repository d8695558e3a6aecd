package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
)

func TestBenchDataJSON(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteImageFolder(t, dir, []string{"a", "b"}, 6, 40)
	for _, split := range []string{"train", "val"} {
		for _, dec := range []string{"auto", "go"} {
			out, err := run(t, "bench", "--mode", "data", "--data_dir", dir, "--split", split, "--batch_size", "4",
				"--num_parallel_workers", "2", "--image_size", "32", "--warmup", "1", "--steps", "5", "--jpeg_decoder", dec, "--json")
			if err != nil {
				t.Fatalf("%s, %s: %v", split, dec, err)
			}
			var r map[string]any
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%s: %v: %q", split, err, out)
			}
			if r["mode"] != "data" || r["split"] != split || r["images"] != 12.0 || r["num_parallel_workers"] != 2.0 ||
				!(r["img_per_s"].(float64) > 0) || !(r["peak_rss_bytes"].(float64) > 0) || r["decoder"] == "" {
				t.Errorf("%s, %s: %v", split, dec, r)
			}
			if dec == "go" && !strings.Contains(r["decoder"].(string), "Go decoder") {
				t.Errorf("--jpeg_decoder go: decoder %v", r["decoder"])
			}
		}
	}
	out, err := run(t, "bench", "--mode", "data", "--data_dir", dir, "--batch_size", "4", "--steps", "2", "--warmup", "0")
	if err != nil || !strings.Contains(out, "img/s") || !strings.Contains(out, "decoder") {
		t.Errorf("table: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "data"}, "--data_dir"},
		{[]string{"--mode", "data", "--data_dir", dir, "--num_parallel_workers", "0"}, "--num_parallel_workers 0"},
		{[]string{"--mode", "data", "--data_dir", filepath.Join(dir, "nope")}, "does not exist"},
		{[]string{"--mode", "data", "--data_dir", dir, "--jpeg_decoder", "pil"}, "jpeg_decoder"},
		// Batches too large for the machine's memory were an out-of-memory crash in the loader.
		{[]string{"--mode", "data", "--data_dir", dir, "--batch_size", "65536", "--image_size", "4096"}, "batches in flight need about"},
		{[]string{"--mode", "data", "--data_dir", dir, "--prefetch", "99999999999"}, "--prefetch 99999999999: want batches ahead (0: the default depth) from 0 to 64"},
		{[]string{"--mode", "data", "--data_dir", dir, "--num_parallel_workers", "99999999999"}, "--num_parallel_workers 99999999999: want decoding goroutines from 1 to 1024"},
	} {
		_, err := run(t, append([]string{"bench"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", c.args, err, c.want)
		}
	}
}
