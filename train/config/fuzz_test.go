package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/resnext/resnext/configs"
)

// FuzzConfigYAML resolves arbitrary bytes as the YAML file of -c/--config: the result is a
// configuration or an error, in a bounded amount of memory (aliases that expand without end
// included), never a panic or a hang (the fuzzer reports an input that takes seconds), and an
// error's length stays in proportion to the input's.
func FuzzConfigYAML(f *testing.F) {
	for _, name := range []string{"cpu/fashion_mnist.yaml", "resnext/resnext50_32x4d_ascend.yaml", "finetune/resnext50_32x4d_finetune.yaml"} {
		f.Add(configs.File(name))
	}
	for _, s := range []string{
		"lr: .nan\nmomentum: -1\n",
		"batch_size: 99999999999999999999\n",
		"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n",
		"scale: [0.08]\nmean: {}\n",
		"model: !!binary aGVsbG8=\n",
		"\xff\xfe", "---\n---\n", "lr: 0.1\nlr: 0.2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
		Register(fs)
		_, _, err := ResolveWith(fs, "fuzz.yaml", data)
		if err != nil && len(err.Error()) > 64<<10 && len(err.Error()) > 16*len(data) {
			t.Fatalf("a %d-byte error for %d bytes of YAML: %.200s", len(err.Error()), len(data), strings.TrimSpace(err.Error()))
		}
	})
}
