package safetensors

import (
	"strings"
	"testing"
)

// TestLongErrorMessages: errors quote at most a short excerpt of a name or a list from the header.
func TestLongErrorMessages(t *testing.T) {
	long := strings.Repeat("n", 1<<20)
	dims := "[" + strings.Repeat("1,", 1<<16) + "3]"
	cases := []struct {
		header string
		data   []byte
		want   string
	}{
		{`{"` + long + `":{"dtype":"X","shape":[],"data_offsets":[0,0]}}`, nil, `tensor "nnnn`},
		{`{"a":{"dtype":"` + long + `","shape":[],"data_offsets":[0,0]}}`, nil, `unknown dtype "nnnn`},
		{`{"` + long + `":1,"` + long + `":2}`, nil, `key "nnnn`},
		{`{"a":{"dtype":"U8","shape":` + dims + `,"data_offsets":[0,2]}}`, []byte{1, 2}, "wrong size"},
		{`{"a":{"dtype":"U8","shape":[2],"data_offsets":` + dims + `}}`, []byte{1, 2}, "want [begin, end]"},
		{`{"` + long + `":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1}, "out of range"},
	}
	for i, c := range cases {
		_, err := Decode(file(c.header, c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("case %d: error %.300v, want one mentioning %q", i, err, c.want)
		}
		if len(err.Error()) > 600 {
			t.Errorf("case %d: error of %d bytes: %.300s", i, len(err.Error()), err)
		}
	}
}
