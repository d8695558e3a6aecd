package torch

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/internal/fuzzcheck"
	"github.com/resnext/resnext/ckpt/safetensors"
)

// lowSlack lowers what expanded views may allocate for the duration of a fuzz target, so that no
// input allocates more than a few MiB.
func lowSlack(f *testing.F) {
	old := expandSlack
	expandSlack = 1 << 20
	f.Cleanup(func() { expandSlack = old })
}

func checkSizes(t *testing.T, ts []safetensors.Tensor) {
	t.Helper()
	for _, x := range ts {
		if want := x.Numel() * safetensors.DTypeSize(x.DType); len(x.Data) != want {
			t.Fatalf("tensor %q: %d bytes for %s %v, want %d", x.Name, len(x.Data), x.DType, x.Shape, want)
		}
	}
}

func fixtures(f *testing.F) [][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.pth"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecode feeds whole files to Decode, zip archives and legacy files: any input gives tensors of
// consistent sizes or a short error, quickly.
func FuzzDecode(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	f.Add([]byte("PK\x05\x06"))
	f.Add([]byte{opProto, 2})
	lowSlack(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ts []safetensors.Tensor
		err := fuzzcheck.Run(t, func() (err error) { ts, err = decodeBytes(data); return err })
		if err == nil {
			checkSizes(t, ts)
		}
	})
}

// FuzzLegacy is FuzzDecode for the legacy format alone (whose pickles, unlike a zip archive's
// entries, carry no checksum that mutations must get right).
func FuzzLegacy(f *testing.F) {
	for _, b := range fixtures(f) {
		if b[0] == opProto {
			f.Add(b)
		}
	}
	lowSlack(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ts []safetensors.Tensor
		err := fuzzcheck.Run(t, func() (err error) { ts, err = decodeLegacy(bytes.NewReader(data), int64(len(data))); return err })
		if err == nil {
			checkSizes(t, ts)
		}
	})
}

// FuzzPickle feeds data.pkl contents to the unpickler and the state dict decoder, with storages of
// the declared sizes, so that mutations reach the tensor code without the zip layer's checksums.
func FuzzPickle(f *testing.F) {
	for _, b := range fixtures(f) {
		if b[0] != 'P' {
			continue
		}
		for _, e := range unzip(f, b) {
			if strings.HasSuffix(e.name, "/data.pkl") {
				f.Add(e.data)
			}
		}
	}
	f.Add(stateDict("FloatStorage", "0", 6, 1, []int32{2, 2}, []int32{1, 3}))
	f.Add(pickle(func(p *pk) { // shared nested tuples as a dict key
		p.op(opEmptyDict)
		nestedPairs(p, 40, true)
		p.op(opNone, opSetItem)
	}))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		var ts []safetensors.Tensor
		err := fuzzcheck.Run(t, func() error {
			d := newDecoder(false)
			d.slack = 1 << 20
			d.load = func(st *storage) error {
				if st.nbytes() > 1<<20 {
					return errors.New("storage too large for the fuzz test")
				}
				st.data = make([]byte, st.nbytes())
				for i := range st.data {
					st.data[i] = byte(i)
				}
				return nil
			}
			u := &unpickler{data: pkl, persistentLoad: d.persistentLoad}
			root, err := u.load()
			if err != nil {
				return err
			}
			ts, err = d.tensors(root)
			return err
		})
		if err == nil {
			checkSizes(t, ts)
		}
	})
}
