package train

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLatestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if got, err := LatestCheckpoint(filepath.Join(dir, "none"), "m"); got != "" || err != nil {
		t.Errorf("no directory: %q, %v", got, err)
	}
	if got, err := LatestCheckpoint(dir, "m"); got != "" || err != nil {
		t.Errorf("no checkpoint: %q, %v", got, err)
	}
	for _, name := range []string{"m-2_100.ckpt", "m-10_3.ckpt", "m-10_20.ckpt", "m_best.ckpt", "optim_m.ckpt", "other-99_1.ckpt", "m-11_5.ckpt.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "m-12_1.ckpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := LatestCheckpoint(dir, "m"); got != filepath.Join(dir, "m-10_20.ckpt") || err != nil {
		t.Errorf("latest: %q, %v; want m-10_20.ckpt", got, err)
	}
}
