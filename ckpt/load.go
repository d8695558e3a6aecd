package ckpt

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// LoadOptions relaxes Load's checks. The zero value demands that the checkpoint and the model hold
// exactly the same tensors with the same shapes.
type LoadOptions struct {
	// SkipPrefixes leaves alone the parameters and checkpoint tensors whose MindCV names start with
	// one of these: the parameters keep their values and the tensors are ignored. "classifier."
	// fine-tunes with a new head.
	SkipPrefixes []string
	// AllowMissing lets parameters the checkpoint does not hold keep their values.
	AllowMissing bool
	// AllowExtra ignores checkpoint tensors that match no parameter.
	AllowExtra bool
}

// LoadReport says what Load did. Names are MindCV's.
type LoadReport struct {
	// Naming is the convention of the checkpoint's names before conversion.
	Naming Naming
	// Loaded lists the parameters that received a tensor, in the model's order.
	Loaded []string
	// Skipped lists the parameters SkipPrefixes left alone.
	Skipped []string
	// Missing lists the parameters the checkpoint does not hold (only with AllowMissing).
	Missing []string
	// Unused lists the checkpoint tensors that went into no parameter: skipped ones and, with
	// AllowExtra, those matching none.
	Unused []string
	// Converted counts the tensors converted to the parameter's dtype, by their dtype in the
	// checkpoint ("F16": 161).
	Converted map[string]int
}

// maxListed is how many names an error lists per kind of problem.
const maxListed = 10

// Load copies the checkpoint's model tensors into params, matching them by MindCV name
// (torchvision/timm names are converted first; see MindCVNames). It checks everything before it
// writes anything: every parameter must have a tensor of the same shape and every tensor a
// parameter, unless opt relaxes this. When the checkpoint does not fit, one error lists the tensors
// that are missing, extra, of the wrong shape (with both shapes) or not floating point, and the
// model is left as it was. Float16, bfloat16 and float64
// contents are converted to the parameter's dtype (float32). Extra entries (optimizer state) are
// never loaded.
func Load(params []*nn.Param, b ops.Backend, c *Checkpoint, opt LoadOptions) (*LoadReport, error) {
	naming, err := c.Naming()
	if err != nil {
		return nil, err
	}
	rep := &LoadReport{Naming: naming, Converted: map[string]int{}}

	// The checkpoint's tensors by MindCV name, in file order.
	mapped := names(c.Tensors)
	if naming != NamingMindCV {
		mapped = MindCVNames(mapped)
	}
	byName := map[string]Tensor{}
	var order []string
	for i, t := range c.Tensors {
		name := mapped[i]
		if name == "" { // num_batches_tracked
			continue
		}
		if _, dup := byName[name]; dup {
			return nil, fmt.Errorf("ckpt %s: two tensors are called %s (after converting names to MindCV's)", c.where(), quote.String(name))
		}
		byName[name] = t
		order = append(order, name)
	}
	skip := func(name string) bool {
		for _, p := range opt.SkipPrefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}

	var pr problems
	used := map[string]bool{}
	type job struct {
		p *nn.Param
		t Tensor
	}
	var jobs []job
	seen := map[string]bool{}
	for _, p := range params {
		switch {
		case p == nil || p.Value == nil:
			return nil, fmt.Errorf("ckpt %s: a parameter has no value", c.where())
		case seen[p.Name]:
			return nil, fmt.Errorf("ckpt %s: the model has two parameters called %q", c.where(), p.Name)
		}
		seen[p.Name] = true
		if skip(p.Name) {
			rep.Skipped = append(rep.Skipped, p.Name)
			continue
		}
		t, ok := byName[p.Name]
		if !ok {
			pr.missing = append(pr.missing, p.Name)
			continue
		}
		used[p.Name] = true
		want := p.Value.Shape()
		switch {
		case !want.Equal(ops.Shape(t.Shape)):
			pr.shapes = append(pr.shapes, fmt.Sprintf("%s (checkpoint %v, model %v)", p.Name, ops.Shape(t.Shape), want))
		case !isFloat(t.DType):
			pr.dtypes = append(pr.dtypes, fmt.Sprintf("%s (%s)", p.Name, t.DType))
		case !p.Value.DType().IsFloat():
			return nil, fmt.Errorf("ckpt %s: parameter %q has dtype %v, not floating point", c.where(), p.Name, p.Value.DType())
		default:
			jobs = append(jobs, job{p, t})
		}
	}
	for _, name := range order {
		switch {
		case used[name]:
		case skip(name):
			rep.Unused = append(rep.Unused, name)
		default:
			pr.extra = append(pr.extra, name)
		}
	}
	if opt.AllowMissing {
		rep.Missing, pr.missing = pr.missing, nil
	}
	if opt.AllowExtra {
		rep.Unused, pr.extra = append(rep.Unused, pr.extra...), nil
	}
	if !pr.empty() {
		return nil, fmt.Errorf("ckpt %s: the checkpoint does not fit the model: %s", c.where(), pr.describe(naming, opt))
	}

	for _, j := range jobs {
		data, err := convert(j.t, j.p.Value.DType())
		if err != nil {
			return nil, fmt.Errorf("ckpt %s: %w", c.where(), err)
		}
		if j.t.DType != dtypeName(j.p.Value.DType()) {
			rep.Converted[j.t.DType]++
		}
		b.Write(j.p.Value, data)
		rep.Loaded = append(rep.Loaded, j.p.Name)
	}
	if err := b.Sync(); err != nil {
		return nil, fmt.Errorf("ckpt %s: loading into the model: %w", c.where(), err)
	}
	return rep, nil
}

// isFloat reports whether a checkpoint dtype converts to float32.
func isFloat(dtype string) bool {
	switch dtype {
	case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
		return true
	}
	return false
}

// dtypeName is the checkpoint spelling of a backend dtype.
func dtypeName(dt ops.DType) string {
	switch dt {
	case ops.Float32:
		return safetensors.F32
	case ops.Float16:
		return safetensors.F16
	case ops.BFloat16:
		return safetensors.BF16
	}
	return dt.String()
}

// convert returns t's values as the bytes of a tensor of dtype dt (Float32, Float16 or BFloat16).
func convert(t Tensor, dt ops.DType) ([]byte, error) {
	if t.DType == dtypeName(dt) {
		if len(t.Data) != t.Numel()*dt.Size() {
			return nil, fmt.Errorf("tensor %s: %d bytes of data for %s %s", quote.String(t.Name), len(t.Data), t.DType, quote.Ints(t.Shape))
		}
		return t.Data, nil
	}
	v, err := t.Float32()
	if err != nil {
		return nil, err
	}
	switch dt {
	case ops.Float32:
		return ops.Bytes(v), nil
	case ops.Float16, ops.BFloat16:
		conv := ops.Float16Bits
		if dt == ops.BFloat16 {
			conv = ops.BFloat16Bits
		}
		out := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(out[2*i:], conv(x))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %s: cannot convert to %v", quote.String(t.Name), dt)
}

// problems collects what keeps a checkpoint from fitting a model.
type problems struct {
	missing, extra, shapes, dtypes []string
}

func (p *problems) empty() bool {
	return len(p.missing)+len(p.extra)+len(p.shapes)+len(p.dtypes) == 0
}

// describe says what is wrong in one line, with a hint when a new head explains it all.
func (p *problems) describe(naming Naming, opt LoadOptions) string {
	var parts []string
	add := func(what string, list []string) {
		if len(list) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s: %s", len(list), what, listNames(list)))
		}
	}
	add("missing from the checkpoint", p.missing)
	add("in the checkpoint but not in the model", p.extra)
	add("with the wrong shape", p.shapes)
	add("not floating point", p.dtypes)
	msg := strings.Join(parts, "; ")
	if naming == NamingTorch {
		msg += " (names converted from torchvision's to MindCV's)"
	}
	head := len(p.shapes)+len(p.missing)+len(p.extra) > 0
	for _, list := range [][]string{p.shapes, p.missing, p.extra} {
		for _, s := range list {
			head = head && strings.HasPrefix(s, "classifier.")
		}
	}
	if head && len(opt.SkipPrefixes) == 0 {
		msg += `; the classifier differs (another number of classes?): to fine-tune with a new head, skip the prefix "classifier."`
	}
	return msg
}

// listNames joins up to maxListed names and says how many more there are.
func listNames(list []string) string {
	shown := make([]string, 0, maxListed)
	for _, s := range list[:min(len(list), maxListed)] {
		shown = append(shown, quote.Clip(s)) // names from the file may be of any length
	}
	if len(list) <= maxListed {
		return strings.Join(shown, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(shown, ", "), len(list)-maxListed)
}
