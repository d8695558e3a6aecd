package nn_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// fake is a layer that computes nothing and records its calls: Forward and Backward return a
// tensor of its own, or the one they were given when it works in place, or nil when noGrad.
type fake struct {
	name            string
	inPlace, noGrad bool
	log             *[]string // the calls, such as "fwd a"
	out, grad       ops.Tensor
}

func (f *fake) record(what string) { *f.log = append(*f.log, what+" "+f.name) }

func (f *fake) Forward(x ops.Tensor) ops.Tensor {
	f.record("fwd")
	if f.inPlace {
		return x
	}
	return f.out
}

func (f *fake) Backward(dy ops.Tensor) ops.Tensor {
	f.record("bwd")
	switch {
	case f.noGrad:
		return nil
	case f.inPlace:
		return dy
	}
	return f.grad
}

func (f *fake) Params() []*nn.Param { return nil }
func (f *fake) SetTraining(bool)    {}
func (f *fake) ReleaseBuffers()     { f.record("release") }
func (f *fake) ReleaseBackward()    { f.record("release-backward") }
func (f *fake) Free()               {}
func (f *fake) String() string      { return f.name }

// tag is a tensor that only has a name.
type tag string

func (tag) Shape() ops.Shape { return nil }
func (tag) DType() ops.DType { return ops.Float32 }

// fakes builds a chain from a spec such as "a b* c d": * marks an in-place layer, ! one with
// NoInputGrad.
func fakes(spec string, log *[]string) []nn.Layer {
	var ls []nn.Layer
	for _, s := range strings.Fields(spec) {
		name := strings.TrimRight(s, "*!")
		ls = append(ls, &fake{name: name, inPlace: strings.HasSuffix(s, "*"), noGrad: strings.HasSuffix(s, "!"),
			log: log, out: tag("y" + name), grad: tag("d" + name)})
	}
	return ls
}

// TestChainRelease checks when ForwardChain and BackwardChain give buffers back: a layer once the
// next step has read what it returned, the owner of a tensor an in-place layer handed on only after
// the step that finally reads it, never the holders of the result, and only what Backward used of
// the layer holding the output.
func TestChainRelease(t *testing.T) {
	for _, c := range []struct {
		name, spec string
		backward   bool
		out        string // BackwardChain's out
		want       string // the calls, in order
		result     string
		holder     string // ForwardChain's
	}{
		{name: "forward", spec: "a b c",
			want: "fwd a, fwd b, release a, fwd c, release b", result: "yc", holder: "c"},
		{name: "forward, in place", spec: "a b* c d*",
			want: "fwd a, fwd b, fwd c, release a, release b, fwd d", result: "yc", holder: "c"},
		{name: "forward, all in place", spec: "a* b*",
			want: "fwd a, fwd b", result: "x", holder: "<nil>"},
		{name: "backward", spec: "a b c", backward: true, out: "c",
			want: "bwd c, bwd b, release-backward c, bwd a, release b", result: "da"},
		{name: "backward, in place", spec: "a b c* d", backward: true, out: "d",
			want: "bwd d, bwd c, bwd b, release-backward d, release c, bwd a, release b", result: "da"},
		{name: "backward, in place first", spec: "a* b", backward: true,
			want: "bwd b, bwd a", result: "db"},
		{name: "backward, no input gradient", spec: "a b! c d", backward: true, out: "d",
			want: "bwd d, bwd c, release-backward d, bwd b, release c, release b, release a", result: "<nil>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log []string
			ls := fakes(c.spec, &log)
			var (
				got    ops.Tensor
				holder nn.Layer
			)
			if c.backward {
				var out nn.Layer
				for _, l := range ls {
					if fmt.Sprint(l) == c.out {
						out = l
					}
				}
				got = nn.BackwardChain(ls, tag("dy"), true, out)
			} else {
				got, holder = nn.ForwardChain(ls, tag("x"), true)
			}
			if got := strings.Join(log, ", "); got != c.want {
				t.Errorf("calls %s\n want %s", got, c.want)
			}
			if fmt.Sprint(got) != c.result {
				t.Errorf("result %v, want %s", got, c.result)
			}
			if !c.backward && fmt.Sprint(holder) != c.holder {
				t.Errorf("holder %v, want %s", holder, c.holder)
			}

			// Without release the same steps run and nothing is given back.
			log = nil
			if c.backward {
				nn.BackwardChain(ls, tag("dy"), false, nil)
			} else {
				nn.ForwardChain(ls, tag("x"), false)
			}
			for _, e := range log {
				if strings.HasPrefix(e, "release") {
					t.Errorf("without release: %s", e)
				}
			}
		})
	}
}
