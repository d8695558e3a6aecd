package mindspore

import (
	"strings"
	"testing"
)

// TestLongErrorMessages: errors quote at most a short excerpt of a tag, a type name or dims.
func TestLongErrorMessages(t *testing.T) {
	long := strings.Repeat("t", 1<<20)
	many := make([]int64, 1<<16)
	for i := range many {
		many[i] = 1
	}
	w := valueMsg("w", tensorMsg([]int64{1}, "Float32", f32s(1)))
	cases := []struct {
		data []byte
		want string
	}{
		{valueMsg(long, tensorMsg([]int64{1}, "Float32", nil)), `tensor "tttt`},
		{join(valueMsg(long, tensorMsg([]int64{1}, "Float32", f32s(1))), w, valueMsg(long, tensorMsg([]int64{1}, "Float32", f32s(1)))), `tag "tttt`},
		{valueMsg("w", tensorMsg([]int64{1}, long, f32s(1))), `unknown tensor_type "tttt`},
		{valueMsg("w", tensorMsg(many, "Float32", f32s(1, 2))), "content size mismatch"},
		{cut(valueMsg(long, tensorMsg([]int64{1}, "Float32", f32s(1)))), `truncated: tag "tttt`},
	}
	for i, c := range cases {
		_, err := Decode(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("case %d: error %.300v, want one mentioning %q", i, err, c.want)
		}
		if len(err.Error()) > 600 {
			t.Errorf("case %d: error of %d bytes: %.300s", i, len(err.Error()), err)
		}
	}
}

func cut(b []byte) []byte { return b[:len(b)-2] }
