package torch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
)

// repr renders a decoded value much as Python's repr would.
func repr(v any) string {
	switch v := v.(type) {
	case nil, bool, int64, float64:
		return describe(v)
	case *big.Int:
		return v.String()
	case string:
		return fmt.Sprintf("'%s'", v)
	case []byte:
		return fmt.Sprintf("b'%s'", v)
	case tuple:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = repr(e)
		}
		if len(v) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *list:
		parts := make([]string, len(v.items))
		for i, e := range v.items {
			parts[i] = repr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *dict:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			parts[i] = repr(k) + ": " + repr(v.values[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *global:
		return v.String()
	case *tensor:
		return fmt.Sprintf("tensor(%s, %q, %d, %v, %v)", v.storage.dtype.name, v.storage.key, v.offset, v.shape, v.stride)
	}
	return fmt.Sprintf("<%T>", v)
}

func (p *pk) long1(b ...byte) *pk { return p.op(opLong1, byte(len(b))).op(b...) }

func (p *pk) float(f float64) *pk {
	p.WriteByte(opBinFloat)
	binary.Write(p, binary.BigEndian, math.Float64bits(f))
	return p
}

// pickle wraps p's opcodes in PROTO 2 ... STOP.
func pickle(build func(p *pk)) []byte {
	p := new(pk).op(opProto, 2)
	build(p)
	return p.op(opStop).Bytes()
}

func unpickle(data []byte) (any, error) {
	d := newDecoder(false)
	u := &unpickler{data: data, persistentLoad: d.persistentLoad}
	return u.load()
}

func TestUnpickleValues(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		want  string
		after int // bytes that must remain after STOP
	}{
		{"none true false", pickle(func(p *pk) { p.op(opNone, opNewTrue, opNewFalse, opTuple3) }), "(None, True, False)", 0},
		{"ints", pickle(func(p *pk) {
			p.op(opMark).int(-1).op(opBinInt1, 200, opBinInt2, 0x34, 0x12).long1().long1(0xff).long1(0, 0x80)
			p.long1(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
			p.long1(0, 0, 0, 0, 0, 0, 0, 0, 1)       // 2**64
			p.long1(0, 0, 0, 0, 0, 0, 0, 0x80, 0xff) // -(2**63): 9 bytes that fit in an int64
			p.op(opLong4, 2, 0, 0, 0, 0x01, 0x01)
			p.op(opTuple)
		}), "(-1, 200, 4660, 0, -1, -32768, 9223372036854775807, 18446744073709551616, -9223372036854775808, 257)", 0},
		{"float", pickle(func(p *pk) { p.float(1.5).float(-2e300).op(opTuple2) }), "(1.5, -2e+300)", 0},
		{"strings and bytes", pickle(func(p *pk) {
			p.op(opMark).str("héllo").op(opShortBinUnicode, 2, 'h', 'i', opShortBinString, 1, 'x', opBinString, 1, 0, 0, 0, 'y')
			p.op(opShortBinBytes, 2, 'a', 'b', opBinBytes, 1, 0, 0, 0, 'c', opBinUnicode8, 1, 0, 0, 0, 0, 0, 0, 0, 'z')
			p.op(opBinBytes8, 0, 0, 0, 0, 0, 0, 0, 0, opTuple)
		}), "('héllo', 'hi', 'x', 'y', b'ab', b'c', 'z', b'')", 0},
		{"lists", pickle(func(p *pk) {
			p.op(opEmptyList).int(1).op(opAppend, opMark).int(2).int(3).op(opAppends)
			p.op(opMark).int(4).op(opList, opTuple2)
		}), "([1, 2, 3], [4])", 0},
		{"dicts", pickle(func(p *pk) {
			p.op(opMark).str("a").int(1).op(opDict)
			p.op(opEmptyDict, opMark).str("x").int(1).str("y").int(2).str("x").int(3).op(opSetItems)
			p.op(opEmptyDict).int(1).int(1).op(opSetItem).int(2).op(opTuple1).str("t").op(opSetItem, opTuple3)
		}), "({'a': 1}, {'x': 3, 'y': 2}, {1: 1, (2,): 't'})", 0},
		{"tuples", pickle(func(p *pk) {
			p.op(opEmptyTuple).int(1).op(opTuple1).int(1).int(2).op(opTuple2, opTuple3)
		}), "((), (1,), (1, 2))", 1},
		{"memo shares objects", pickle(func(p *pk) {
			p.op(opEmptyList, opBinPut, 7, opBinGet, 7, opLongBinGet, 7, 0, 0, 0, opTuple2)
			p.op(opBinGet, 7).int(5).op(opAppend, opPop) // appending to the memoised list changes both
		}), "([5], [5])", 0},
		{"memoize and long put", pickle(func(p *pk) {
			p.str("a").op(opMemoize, opPop).str("b").op(opLongBinPut, 9, 0, 0, 0, opPop)
			p.op(opBinGet, 0, opLongBinGet, 9, 0, 0, 0, opTuple2)
		}), "('a', 'b')", 0},
		{"pop, pop mark, dup", pickle(func(p *pk) {
			p.int(1).op(opMark).int(2).int(3).op(opPopMark).int(9).op(opPop, opDup, opTuple2)
		}), "(1, 1)", 0},
		{"frames and protocol 4", func() []byte {
			p := new(pk).op(opProto, 4, opFrame, 5, 0, 0, 0, 0, 0, 0, 0)
			p.op(opShortBinUnicode, 11).WriteString("collections")
			p.op(opShortBinUnicode, 11).WriteString("OrderedDict")
			return p.op(opStackGlobal, opEmptyTuple, opReduce, opStop).Bytes()
		}(), "{}", 0},
		{"OrderedDict of pairs", pickle(func(p *pk) {
			p.global("collections", "OrderedDict").op(opEmptyList, opMark).str("a").int(1).op(opTuple2)
			p.str("b").op(opNone, opTuple2, opAppends, opTuple1, opReduce)
		}), "{'a': 1, 'b': None}", 0},
		{"OrderedDict state", pickle(func(p *pk) {
			p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
			p.op(opEmptyDict).str("_metadata").op(opEmptyDict, opSetItem, opBuild)
		}), "{}", 0},
		{"torch.Size", pickle(func(p *pk) { p.global("torch", "Size").ints(2, 3).op(opTuple1, opReduce) }), "(2, 3)", 0},
		{"tensor", pickle(func(p *pk) { p.tensor("HalfStorage", "k", 6, 1, []int32{2, 2}, []int32{1, 2}) }),
			`tensor(F16, "k", 1, [2 2], [1 2])`, 0},
		{"parameter", pickle(func(p *pk) {
			p.global("torch._utils", "_rebuild_parameter_with_state")
			p.op(opMark).tensor("BoolStorage", "0", 1, 0, nil, nil).op(opNewTrue, opEmptyDict, opEmptyDict, opTuple, opReduce)
		}), `tensor(BOOL, "0", 0, [], [])`, 0},
		{"from type v2", pickle(func(p *pk) {
			// _rebuild_from_type_v2(_rebuild_parameter, Parameter, (tensor, False, OrderedDict()), {})
			p.global("torch._tensor", "_rebuild_from_type_v2").op(opMark)
			p.global("torch._utils", "_rebuild_parameter").global("torch.nn.parameter", "Parameter")
			p.op(opMark).tensor("BFloat16Storage", "0", 2, 0, []int32{2}, []int32{1}).op(opNewFalse, opEmptyDict, opTuple)
			p.op(opEmptyDict, opTuple, opReduce)
		}), `tensor(BF16, "0", 0, [2], [1])`, 0},
		{"legacy rebuild and cuda storage", pickle(func(p *pk) {
			p.global("torch._utils", "_rebuild_tensor").op(opMark)
			p.op(opMark).str("storage").global("torch.cuda", "LongStorage").str("0").str("cuda:0").int(3).op(opTuple, opBinPersID)
			p.int(0).ints(3).ints(1).op(opTuple, opReduce)
		}), `tensor(I64, "0", 0, [3], [1])`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data
			if c.after > 0 {
				data = append(bytes.Clone(data), make([]byte, c.after)...)
			}
			d := newDecoder(false)
			u := &unpickler{data: data, persistentLoad: d.persistentLoad}
			v, err := u.load()
			if err != nil {
				t.Fatal(err)
			}
			if got := repr(v); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if left := len(data) - u.pos; left != c.after {
				t.Errorf("%d bytes left after STOP, want %d", left, c.after)
			}
		})
	}
}

func TestUnpickleErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "ends without a STOP"},
		{"protocol 1", []byte{opProto, 1, opNone, opStop}, "unsupported pickle protocol 1"},
		{"protocol 0 text opcode", []byte("I1\n."), "unsupported pickle opcode 0x49 ('I')"},
		{"stop on empty stack", []byte{opProto, 2, opStop}, "stack underflow"},
		{"underflow below mark", []byte{opProto, 2, opEmptyList, opMark, opAppend}, "opcode APPEND: stack underflow"},
		{"tuple2 below mark", []byte{opProto, 2, opNone, opMark, opNone, opTuple2}, "opcode TUPLE2: stack underflow"},
		{"no mark", []byte{opProto, 2, opTuple}, "no MARK"},
		{"undefined memo", []byte{opProto, 2, opBinGet, 3}, "memo entry 3 is not defined"},
		{"put on empty stack", []byte{opProto, 2, opBinPut, 0}, "opcode BINPUT: stack underflow"},
		{"append to tuple", []byte{opProto, 2, opEmptyTuple, opNone, opAppend}, "appends to a tuple, not a list"},
		{"setitem on list", []byte{opProto, 2, opEmptyList, opNone, opNone, opSetItem}, "sets items on a list, not a dict"},
		{"odd setitems", []byte{opProto, 2, opEmptyDict, opMark, opNone, opSetItems}, "odd number (1)"},
		{"unhashable key", []byte{opProto, 2, opEmptyDict, opEmptyList, opNone, opSetItem}, "unhashable dict key of type list"},
		{"unhashable in tuple key", []byte{opProto, 2, opEmptyDict, opEmptyDict, opTuple1, opNone, opSetItem},
			"unhashable dict key of type dict"},
		{"long string", []byte{opProto, 2, opBinUnicode, 0xff, 0xff, 0xff, 0xff, 'a'}, "truncated: needs 4294967295 bytes, 1 left"},
		{"long4 length", []byte{opProto, 2, opLong4, 0xff, 0xff, 0xff, 0x7f}, "an int of 2147483647 bytes"},
		{"long4 truncated", []byte{opProto, 2, opLong4, 0x10, 0, 0, 0}, "truncated"},
		{"negative binstring", []byte{opProto, 2, opBinString, 0xff, 0xff, 0xff, 0xff}, "negative string length -1"},
		{"global without newline", []byte("\x80\x02ctorch"), "truncated or overlong"},
		{"reduce non-global", pickle(func(p *pk) { p.op(opNone, opEmptyTuple, opReduce) }), "calls a None, not a function"},
		{"reduce list args", pickle(func(p *pk) { p.global("collections", "OrderedDict").op(opEmptyList, opReduce) }),
			"collections.OrderedDict called with a list of arguments, want a tuple"},
		{"call a storage type", pickle(func(p *pk) { p.global("torch", "FloatStorage").op(opEmptyTuple, opReduce) }),
			"torch.FloatStorage cannot be called here"},
		{"build on list", pickle(func(p *pk) { p.op(opEmptyList, opEmptyDict, opBuild) }), "sets state on a list"},
		{"persistent id not a tuple", pickle(func(p *pk) { p.str("x").op(opBinPersID) }), "persistent id is a str, want a tuple"},
		{"module persistent id", pickle(func(p *pk) { p.str("module").op(opTuple1, opBinPersID) }), "whole pickled model"},
		{"storage id too short", pickle(func(p *pk) { p.str("storage").op(opTuple1, opBinPersID) }), "storage id has 1 items, want 5"},
		{"storage id bad type", pickle(func(p *pk) {
			p.op(opMark).str("storage").global("torch", "Size").str("0").str("cpu").int(1).op(opTuple, opBinPersID)
		}), "storage id names a torch.Size, want a storage type"},
		{"negative numel", pickle(func(p *pk) {
			p.op(opMark).str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(-1).op(opTuple, opBinPersID)
		}), `storage "0": bad size -1`},
		{"rebuild from a str", pickle(func(p *pk) {
			p.global("torch._utils", "_rebuild_tensor").op(opMark).str("s").int(0).ints().ints().op(opTuple, opReduce)
		}), "tensor rebuilt from a str, want a storage"},
		{"rebuild wrong arity", pickle(func(p *pk) {
			p.global("torch._utils", "_rebuild_tensor_v2").op(opEmptyTuple, opReduce)
		}), "torch._utils._rebuild_tensor_v2 called with 0 arguments, want [6 7]"},
		{"size of strings", pickle(func(p *pk) { p.global("torch", "Size").str("a").op(opTuple1, opTuple1, opReduce) }),
			"torch.Size: item 0 is a str, want an int"},
		{"from type v2 wrong type", pickle(func(p *pk) {
			p.global("torch._tensor", "_rebuild_from_type_v2").op(opMark)
			p.global("torch", "Size").global("collections", "OrderedDict").op(opEmptyTuple, opNone, opTuple, opReduce)
		}), "called with type collections.OrderedDict, want torch.Tensor"},
		{"from type v2 not a tensor", pickle(func(p *pk) {
			p.global("torch._tensor", "_rebuild_from_type_v2").op(opMark)
			p.global("torch", "Size").global("torch", "Tensor").op(opEmptyTuple, opTuple1, opNone, opTuple, opReduce)
		}), "made a tuple, want a tensor"},
		{"quoted global", pickle(func(p *pk) { p.global("os", "sys tem\x00") }), `global "os.sys tem\x00" is not allowed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := unpickle(c.data)
			if err == nil {
				t.Fatalf("no error; got %s", repr(v))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not contain %q", err, c.want)
			}
		})
	}
}

func TestMaterialise(t *testing.T) {
	st := &storage{key: "0", dtype: dtype{"I16", 2}, numel: 24, loaded: true}
	st.data = make([]byte, 48)
	for i := range 24 {
		binary.LittleEndian.PutUint16(st.data[2*i:], uint16(i))
	}
	cases := []struct {
		name           string
		offset         int64
		shape, stride  []int64
		want           []uint16
		wantContiguous bool
	}{
		{"scalar", 5, nil, nil, []uint16{5}, true},
		{"contiguous", 2, []int64{2, 3}, []int64{3, 1}, []uint16{2, 3, 4, 5, 6, 7}, true},
		{"size-1 dims with any stride", 1, []int64{1, 3, 1}, []int64{99, 1, 7}, []uint16{1, 2, 3}, true},
		{"transposed", 0, []int64{3, 2}, []int64{1, 3}, []uint16{0, 3, 1, 4, 2, 5}, false},
		{"rows with a gap", 1, []int64{2, 2}, []int64{6, 1}, []uint16{1, 2, 7, 8}, false},
		{"3-d permuted", 0, []int64{2, 2, 3}, []int64{1, 6, 2}, []uint16{0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}, false},
		{"expanded", 4, []int64{2, 3}, []int64{0, 1}, []uint16{4, 5, 6, 4, 5, 6}, false},
		{"empty", 100, []int64{0, 3}, []int64{3, 1}, []uint16{}, true},
		{"last element", 23, []int64{1}, []int64{1}, []uint16{23}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := &tensor{storage: st, offset: c.offset, shape: c.shape, stride: c.stride}
			if got := x.contiguous(); got != c.wantContiguous {
				t.Errorf("contiguous = %v, want %v", got, c.wantContiguous)
			}
			n, err := x.check()
			if err != nil {
				t.Fatal(err)
			}
			out := x.copyOut(n)
			got := make([]uint16, len(out)/2)
			for i := range got {
				got[i] = binary.LittleEndian.Uint16(out[2*i:])
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	for _, c := range []struct {
		name          string
		offset        int64
		shape, stride []int64
	}{
		{"offset at the end", 24, nil, nil},
		{"one past", 0, []int64{25}, []int64{1}},
		{"stride past", 0, []int64{2, 2}, []int64{23, 1}},
		{"huge stride", 0, []int64{2}, []int64{math.MaxInt64}},
		{"huge offset", math.MaxInt64, []int64{2}, []int64{1}},
		{"huge size", 0, []int64{math.MaxInt64 / 2, 4}, []int64{0, 0}},
	} {
		x := &tensor{storage: st, offset: c.offset, shape: c.shape, stride: c.stride}
		if _, err := x.check(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
