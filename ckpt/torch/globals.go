package torch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/resnext/resnext/ckpt/internal/quote"
)

// kind says what an allow-listed global is.
type kind int

const (
	kindOrderedDict kind = iota
	kindRebuildTensorV2
	kindRebuildTensor
	kindRebuildParameter
	kindRebuildParameterWithState
	kindRebuildFromTypeV2
	kindTensorClass
	kindSize
	kindStorage
)

// global is an allow-listed Python class or function, as named by a GLOBAL or STACK_GLOBAL opcode.
// Nothing is imported or run: the few calls a state dict needs are implemented by call.
type global struct {
	module, name string
	kind         kind
	dtype        dtype // for kindStorage
}

func (g *global) String() string { return g.module + "." + g.name }

// allowed lists the globals torch.save writes for dicts of tensors and parameters.
var allowed = map[string]kind{
	"collections.OrderedDict":                    kindOrderedDict,
	"torch._utils._rebuild_tensor_v2":            kindRebuildTensorV2,
	"torch._utils._rebuild_tensor":               kindRebuildTensor,
	"torch._utils._rebuild_parameter":            kindRebuildParameter,
	"torch._utils._rebuild_parameter_with_state": kindRebuildParameterWithState,
	"torch._tensor._rebuild_from_type_v2":        kindRebuildFromTypeV2,
	"torch.Tensor":                               kindTensorClass,
	"torch.nn.parameter.Parameter":               kindTensorClass,
	"torch.Size":                                 kindSize,
}

// dtype is a tensor element type: its safetensors name and size in bytes.
type dtype struct {
	name string
	size int
}

// storageTypes maps torch's storage classes (torch.<Name>) to their element types.
var storageTypes = map[string]dtype{
	"DoubleStorage":   {"F64", 8},
	"FloatStorage":    {"F32", 4},
	"HalfStorage":     {"F16", 2},
	"BFloat16Storage": {"BF16", 2},
	"LongStorage":     {"I64", 8},
	"IntStorage":      {"I32", 4},
	"ShortStorage":    {"I16", 2},
	"CharStorage":     {"I8", 1},
	"ByteStorage":     {"U8", 1},
	"BoolStorage":     {"BOOL", 1},
}

// lookupGlobal resolves an allow-listed global, or returns an error naming it.
func lookupGlobal(module, name string) (*global, error) {
	full := module + "." + name
	if k, ok := allowed[full]; ok {
		return &global{module: module, name: name, kind: k}, nil
	}
	if module == "torch" || module == "torch.cuda" {
		if dt, ok := storageTypes[name]; ok {
			return &global{module: module, name: name, kind: kindStorage, dtype: dt}, nil
		}
		if strings.HasSuffix(name, "Storage") {
			return nil, fmt.Errorf("unsupported storage type %s: tensors of float64, float32, float16, bfloat16, "+
				"int64, int32, int16, int8, uint8 and bool are read", full)
		}
	}
	return nil, fmt.Errorf("global %s is not allowed: only tensors, in dicts, lists and tuples of plain values, "+
		"are read (no other Python objects; nothing in the file is run). If the file is a whole pickled "+
		"model or holds other objects, load it in Python and save the weights alone: "+
		"torch.save(model.state_dict(), path)", printable(full))
}

// printable quotes s if it holds anything but the characters of Python dotted names, or is long.
func printable(s string) string {
	for _, c := range s {
		if !(c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return quote.String(s)
		}
	}
	if len(s) > quote.Max {
		return quote.String(s)
	}
	return s
}

// call runs the allow-listed function or class g on args (a REDUCE).
func call(g *global, args tuple, depth int, work *int64) (any, error) {
	nargs := func(want ...int) error {
		for _, w := range want {
			if len(args) == w {
				return nil
			}
		}
		return fmt.Errorf("%s called with %d arguments, want %v", g, len(args), want)
	}
	switch g.kind {
	case kindOrderedDict:
		d := newDict(work)
		if len(args) == 0 {
			return d, nil
		}
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		var items []any
		switch v := args[0].(type) {
		case *list:
			items = v.items
		case tuple:
			items = v
		default:
			return nil, fmt.Errorf("%s called with %s, want a list of pairs", g, aType(args[0]))
		}
		for _, it := range items {
			var pair []any
			switch p := it.(type) {
			case tuple:
				pair = p
			case *list:
				pair = p.items
			}
			if len(pair) != 2 {
				return nil, fmt.Errorf("%s called with an item that is not a (key, value) pair", g)
			}
			if err := d.set(pair[0], pair[1]); err != nil {
				return nil, err
			}
		}
		return d, nil
	case kindRebuildTensorV2:
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
		if err := nargs(6, 7); err != nil {
			return nil, err
		}
		return rebuildTensor(args)
	case kindRebuildTensor:
		// (storage, storage_offset, size, stride)
		if err := nargs(4); err != nil {
			return nil, err
		}
		return rebuildTensor(args)
	case kindRebuildParameter, kindRebuildParameterWithState:
		// (data, requires_grad, backward_hooks[, state])
		if err := nargs(3, 4); err != nil {
			return nil, err
		}
		if _, ok := args[0].(*tensor); !ok {
			return nil, fmt.Errorf("%s called with %s, want a tensor", g, aType(args[0]))
		}
		return args[0], nil
	case kindRebuildFromTypeV2:
		// (func, new_type, args, state): func(*args), then the Python state set on it (ignored).
		if err := nargs(4); err != nil {
			return nil, err
		}
		fn, ok := args[0].(*global)
		if !ok {
			return nil, fmt.Errorf("%s called with %s as its function", g, aType(args[0]))
		}
		if t, ok := args[1].(*global); !ok || t.kind != kindTensorClass {
			return nil, fmt.Errorf("%s called with type %s, want torch.Tensor or torch.nn.parameter.Parameter", g, typeName(args[1]))
		}
		inner, ok := args[2].(tuple)
		if !ok {
			return nil, fmt.Errorf("%s called with %s of arguments, want a tuple", g, aType(args[2]))
		}
		if depth >= 8 {
			return nil, fmt.Errorf("%s nested too deeply", g)
		}
		v, err := call(fn, inner, depth+1, work)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*tensor); !ok {
			return nil, fmt.Errorf("%s made %s, want a tensor", g, aType(v))
		}
		return v, nil
	case kindSize:
		if err := nargs(1); err != nil {
			return nil, err
		}
		dims, err := ints(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g, err)
		}
		t := make(tuple, len(dims))
		for i, d := range dims {
			t[i] = d
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s cannot be called here", g)
}

// build applies a BUILD opcode: Python state set on an object after it is made. State dicts carry
// their module versions (_metadata) this way, and tensor subclasses their attributes; both are
// dropped. Any other object is an error.
func build(obj, state any) error {
	switch obj.(type) {
	case *dict, *tensor:
		return nil
	}
	return fmt.Errorf("sets state on %s: not supported", aType(obj))
}

// ints converts a tuple or list of Python ints.
func ints(v any) ([]int64, error) {
	var items []any
	switch v := v.(type) {
	case tuple:
		items = v
	case *list:
		items = v.items
	default:
		return nil, fmt.Errorf("got %s, want a tuple of ints", aType(v))
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok {
			return nil, fmt.Errorf("item %d is %s, want an int", i, aType(it))
		}
		out[i] = n
	}
	return out, nil
}

// maxDims bounds the rank of a tensor.
const maxDims = 64

// rebuildTensor makes a tensor from _rebuild_tensor(_v2)'s first four arguments: storage, offset
// (in elements), size and stride. Ranges are checked when the tensor is materialised, where its name
// is known.
func rebuildTensor(args tuple) (*tensor, error) {
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("tensor rebuilt from %s, want a storage", aType(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok {
		return nil, fmt.Errorf("tensor storage offset is %s, want an int", aType(args[1]))
	}
	shape, err := ints(args[2])
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	stride, err := ints(args[3])
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	if len(shape) > maxDims || len(stride) > maxDims {
		return nil, errors.New("tensor has more than 64 dimensions")
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("tensor size %v and stride %v differ in length", shape, stride)
	}
	return &tensor{storage: st, offset: off, shape: shape, stride: stride}, nil
}
