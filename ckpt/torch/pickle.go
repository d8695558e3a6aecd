package torch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/resnext/resnext/ckpt/internal/quote"
)

// This file is a small unpickler: it understands the opcodes of pickle protocols 2 to 5 that torch.save
// emits for nested dicts, lists and tuples of tensors and plain values, and nothing that could run code.
// Globals are not imported but looked up in an allow-list (see globals.go); calls (REDUCE) go to the
// handful of functions that list names.
//
// Python values map to Go values as follows:
//
//	None -> nil, bool -> bool, int -> int64 (or *big.Int beyond 64 bits), float -> float64,
//	str -> string, bytes -> []byte, tuple -> tuple, list -> *list, dict and OrderedDict -> *dict,
//	an allow-listed class or function -> *global, a storage -> *storage, a tensor -> *tensor.

// tuple is a Python tuple.
type tuple []any

// list is a Python list; a pointer, because APPEND and APPENDS change it after it is memoised.
type list struct{ items []any }

// dict is a Python dict or OrderedDict: its items in insertion order.
type dict struct {
	keys, values []any
	index        map[any]int
	// work is the hashing budget of the pickle that builds the dict.
	work *int64
}

func newDict(work *int64) *dict { return &dict{index: map[any]int{}, work: work} }

// set stores value under key; a key already present keeps its place, as in Python.
func (d *dict) set(key, value any) error {
	h, err := hashKey(key, d.work)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.values[i] = value
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.values = append(d.values, value)
	return nil
}

// get returns the value stored under the string key.
func (d *dict) get(key string) (any, bool) {
	i, ok := d.index[key]
	if !ok {
		return nil, false
	}
	return d.values[i], true
}

// Hashable stand-ins for Python values that are not comparable in Go, or that must not collide with a
// string of the same text.
type (
	bigKey   string
	bytesKey string
	tupleKey string
)

// Limits of the pickle machine. They bound its work, not only what it reads: values built from shared
// references (memo GET, DUP) can be exponentially larger than the pickle, so any walk over a value
// is bounded as well.
const (
	// maxDepth bounds the nesting that recursive walks over decoded values follow.
	maxDepth = 64
	// maxOps bounds the opcodes one pickle runs.
	maxOps = 1 << 26
	// maxMemo bounds the memo entries of one pickle.
	maxMemo = 1 << 20
	// maxKeyWork bounds the work of hashing one dict key, in units of one per item (nested items
	// included) and per byte of its text: a tuple key of more than 64 Ki items and bytes is refused.
	maxKeyWork = 1 << 16
	// maxHashWork bounds the work of hashing all the dict keys of one pickle, in the same units.
	maxHashWork = 1 << 22
	// maxLong bounds the bytes of an int (LONG1, LONG4): 256 bytes is an integer of 616 digits.
	maxLong = 256
)

// hashKey returns a comparable Go value that identifies a Python dict key, or an error for the types
// Python cannot hash. Hashing a tuple costs one unit per item and per byte of its identity; a key
// that costs more than maxKeyWork, or more than what is left of *work (the pickle's budget, which
// it is charged), is refused.
func hashKey(k any, work *int64) (any, error) {
	t, ok := k.(tuple)
	if !ok {
		cost := 1 + int64(textLen(k)) // a Go map hashes the whole text on every insertion
		if work != nil {
			if *work < cost {
				return nil, errHashWork
			}
			*work -= cost
		}
		return hashLeaf(k)
	}
	budget := int64(maxKeyWork)
	if work != nil && *work < budget {
		budget = *work
	}
	left := budget
	var b strings.Builder
	if err := hashTuple(&b, t, 0, &left); err != nil {
		if errors.Is(err, errKeyWork) && budget < maxKeyWork {
			return nil, errHashWork
		}
		return nil, err
	}
	if work != nil {
		*work -= budget - left
	}
	return tupleKey(b.String()), nil
}

// errHashWork reports a pickle whose dict keys, in all, cost too much to hash.
var errHashWork = fmt.Errorf("the dict keys of the pickle are too large to compare: more than %d "+
	"units of work (items and bytes) in all (limit maxHashWork in ckpt/torch)", maxHashWork)

// textLen is the length of a string or bytes value, 0 for other values.
func textLen(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case []byte:
		return len(v)
	}
	return 0
}

// errKeyWork reports a tuple key too large to hash.
var errKeyWork = fmt.Errorf("dict key is a tuple too large to compare: more than %d items and bytes "+
	"(limit maxKeyWork in ckpt/torch; a state dict's keys are names)", maxKeyWork)

// hashTuple writes the identity of a tuple key to b, charging its items and bytes to *left.
func hashTuple(b *strings.Builder, t tuple, depth int, left *int64) error {
	if depth >= maxDepth {
		return errors.New("dict key: tuple nested too deeply")
	}
	b.WriteByte('(')
	for _, e := range t {
		if *left--; *left < 0 {
			return errKeyWork
		}
		if inner, ok := e.(tuple); ok {
			if err := hashTuple(b, inner, depth+1, left); err != nil {
				return err
			}
			b.WriteByte(',')
			continue
		}
		if *left -= int64(textLen(e)); *left < 0 { // text is charged before it is copied
			return errKeyWork
		}
		h, err := hashLeaf(e)
		if err != nil {
			return err
		}
		n := b.Len()
		fmt.Fprintf(b, "%T:%v,", h, h)
		if *left -= int64(b.Len() - n); *left < 0 {
			return errKeyWork
		}
	}
	b.WriteByte(')')
	return nil
}

// hashLeaf returns the comparable identity of a key that is not a tuple.
func hashLeaf(k any) (any, error) {
	switch v := k.(type) {
	case nil, bool, int64, float64, string:
		return v, nil
	case *big.Int:
		return bigKey(v.Text(16)), nil
	case []byte:
		return bytesKey(v), nil
	case *global:
		return *v, nil
	}
	return nil, fmt.Errorf("unhashable dict key of type %s", typeName(k))
}

// describe shows a decoded value in an error message, in a bounded length: plain values as Python
// writes them (text and large ints cut short), containers by their type.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64, float64:
		return fmt.Sprint(v)
	case *big.Int:
		return quote.Clip(v.String()) // at most maxLong bytes: a few hundred digits
	case string:
		return quote.String(v)
	case []byte:
		return "b" + quote.Bytes(v)
	}
	return aType(v)
}

// typeName names the Python type of a decoded value, for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case tuple:
		return "tuple"
	case *list:
		return "list"
	case *dict:
		return "dict"
	case *global:
		return v.String()
	case *storage:
		return "storage"
	case *tensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// Opcodes.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'

	opProto           = 0x80
	opNewObj          = 0x81
	opTuple1          = 0x85
	opTuple2          = 0x86
	opTuple3          = 0x87
	opNewTrue         = 0x88
	opNewFalse        = 0x89
	opLong1           = 0x8a
	opLong4           = 0x8b
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opBinBytes8       = 0x8e
	opNewObjEx        = 0x92
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95
)

var opNames = map[byte]string{
	opMark: "MARK", opStop: "STOP", opPop: "POP", opPopMark: "POP_MARK", opDup: "DUP",
	opBinFloat: "BINFLOAT", opBinInt: "BININT", opBinInt1: "BININT1", opBinInt2: "BININT2",
	opNone: "NONE", opBinPersID: "BINPERSID", opReduce: "REDUCE", opBinString: "BINSTRING",
	opShortBinString: "SHORT_BINSTRING", opBinUnicode: "BINUNICODE", opAppend: "APPEND",
	opBuild: "BUILD", opGlobal: "GLOBAL", opDict: "DICT", opEmptyDict: "EMPTY_DICT",
	opAppends: "APPENDS", opBinGet: "BINGET", opLongBinGet: "LONG_BINGET", opList: "LIST",
	opEmptyList: "EMPTY_LIST", opBinPut: "BINPUT", opLongBinPut: "LONG_BINPUT", opSetItem: "SETITEM",
	opTuple: "TUPLE", opEmptyTuple: "EMPTY_TUPLE", opSetItems: "SETITEMS", opBinBytes: "BINBYTES",
	opShortBinBytes: "SHORT_BINBYTES", opProto: "PROTO", opNewObj: "NEWOBJ", opTuple1: "TUPLE1",
	opTuple2: "TUPLE2", opTuple3: "TUPLE3", opNewTrue: "NEWTRUE", opNewFalse: "NEWFALSE",
	opLong1: "LONG1", opLong4: "LONG4", opShortBinUnicode: "SHORT_BINUNICODE",
	opBinUnicode8: "BINUNICODE8", opBinBytes8: "BINBYTES8", opNewObjEx: "NEWOBJ_EX",
	opStackGlobal: "STACK_GLOBAL", opMemoize: "MEMOIZE", opFrame: "FRAME",
}

// unpickler decodes pickle streams held in memory.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack lengths at each open MARK
	memo  map[uint64]any
	ops   int   // opcodes run by this pickle
	work  int64 // what is left of the pickle's hashing budget (maxHashWork)

	// persistentLoad turns a BINPERSID id into a value (a storage).
	persistentLoad func(pid any) (any, error)
}

// load decodes one pickle starting at u.pos and leaves u.pos just after its STOP. Each call starts with an
// empty stack and memo, as a new Python Unpickler would.
func (u *unpickler) load() (any, error) {
	u.stack = u.stack[:0]
	u.marks = u.marks[:0]
	u.memo = map[uint64]any{}
	u.ops, u.work = 0, maxHashWork
	for {
		at := u.pos
		if at >= len(u.data) {
			return nil, fmt.Errorf("truncated at byte %d: the pickle ends without a STOP opcode", at)
		}
		op := u.data[at]
		u.pos++
		if u.ops++; u.ops > maxOps {
			return nil, fmt.Errorf("byte %d: more than %d opcodes in one pickle (limit maxOps in ckpt/torch)", at, maxOps)
		}
		v, done, err := u.step(op)
		if err != nil {
			name, ok := opNames[op]
			if !ok {
				name = fmt.Sprintf("0x%02x", op)
			}
			return nil, fmt.Errorf("byte %d, opcode %s: %w", at, name, err)
		}
		if done {
			return v, nil
		}
	}
}

var errUnderflow = errors.New("stack underflow (damaged pickle)")

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// floor is the lowest stack index the current MARK level may pop.
func (u *unpickler) floor() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errUnderflow
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errUnderflow
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and closes that MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK to close (damaged pickle)")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// read returns the next n bytes.
func (u *unpickler) read(n uint64) ([]byte, error) {
	if left := uint64(len(u.data) - u.pos); n > left {
		return nil, fmt.Errorf("truncated: needs %d bytes, %d left", n, left)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readLine returns the text up to the next newline, for GLOBAL's arguments.
func (u *unpickler) readLine() (string, error) {
	const maxLine = 1024
	rest := u.data[u.pos:]
	for i, c := range rest {
		if c == '\n' {
			u.pos += i + 1
			return string(rest[:i]), nil
		}
		if i >= maxLine {
			break
		}
	}
	return "", errors.New("truncated or overlong module or name line")
}

// step runs one opcode; done reports a STOP, with the pickle's value.
func (u *unpickler) step(op byte) (v any, done bool, err error) {
	switch op {
	case opProto:
		p, err := u.readUint(1)
		if err != nil {
			return nil, false, err
		}
		if p < 2 || p > 5 {
			return nil, false, fmt.Errorf("unsupported pickle protocol %d (want 2 to 5)", p)
		}
	case opFrame:
		if _, err := u.readUint(8); err != nil {
			return nil, false, err
		}
	case opStop:
		v, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		return v, true, nil

	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.stack) > u.floor() {
			u.stack = u.stack[:len(u.stack)-1]
		} else if _, err := u.popMark(); err != nil {
			return nil, false, err
		}
	case opPopMark:
		if _, err := u.popMark(); err != nil {
			return nil, false, err
		}
	case opDup:
		v, err := u.top()
		if err != nil {
			return nil, false, err
		}
		u.push(v)

	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		n, err := u.readUint(4)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(int32(uint32(n))))
	case opBinInt1:
		n, err := u.readUint(1)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(n))
	case opBinInt2:
		n, err := u.readUint(2)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(n))
	case opLong1, opLong4:
		size := 1
		if op == opLong4 {
			size = 4
		}
		n, err := u.readUint(size)
		if err != nil {
			return nil, false, err
		}
		if n > maxLong {
			return nil, false, fmt.Errorf("an int of %d bytes: more than the %d a state dict may hold (limit maxLong in ckpt/torch)", n, maxLong)
		}
		b, err := u.read(n)
		if err != nil {
			return nil, false, err
		}
		u.push(decodeLong(b))
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return nil, false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case opBinUnicode, opShortBinUnicode, opBinUnicode8, opBinString, opShortBinString,
		opBinBytes, opShortBinBytes, opBinBytes8:
		size := 4
		switch op {
		case opShortBinUnicode, opShortBinString, opShortBinBytes:
			size = 1
		case opBinUnicode8, opBinBytes8:
			size = 8
		}
		n, err := u.readUint(size)
		if err != nil {
			return nil, false, err
		}
		if op == opBinString && n >= 1<<31 { // a signed 4-byte length
			return nil, false, fmt.Errorf("negative string length %d", int32(uint32(n)))
		}
		b, err := u.read(n)
		if err != nil {
			return nil, false, err
		}
		switch op {
		case opBinBytes, opShortBinBytes, opBinBytes8:
			u.push(append([]byte(nil), b...))
		default:
			u.push(string(b))
		}

	case opEmptyTuple:
		u.push(tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		u.push(tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack)-u.floor() < n {
			return nil, false, errUnderflow
		}
		t := append(tuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		u.push(t)
	case opEmptyList:
		u.push(&list{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		u.push(&list{items: items})
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		if err := u.appendTo([]any{v}); err != nil {
			return nil, false, err
		}
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		if err := u.appendTo(items); err != nil {
			return nil, false, err
		}
	case opEmptyDict:
		u.push(newDict(&u.work))
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		d := newDict(&u.work)
		if err := setItems(d, items); err != nil {
			return nil, false, err
		}
		u.push(d)
	case opSetItem:
		v, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		k, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		if err := u.setItemsOnTop([]any{k, v}); err != nil {
			return nil, false, err
		}
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		if err := u.setItemsOnTop(items); err != nil {
			return nil, false, err
		}

	case opBinPut, opLongBinPut, opMemoize:
		var i uint64
		switch op {
		case opBinPut:
			i, err = u.readUint(1)
		case opLongBinPut:
			i, err = u.readUint(4)
		default:
			i = uint64(len(u.memo))
		}
		if err != nil {
			return nil, false, err
		}
		v, err := u.top()
		if err != nil {
			return nil, false, err
		}
		if _, ok := u.memo[i]; !ok && len(u.memo) >= maxMemo {
			return nil, false, fmt.Errorf("more than %d memo entries (limit maxMemo in ckpt/torch)", maxMemo)
		}
		u.memo[i] = v
	case opBinGet, opLongBinGet:
		size := 1
		if op == opLongBinGet {
			size = 4
		}
		i, err := u.readUint(size)
		if err != nil {
			return nil, false, err
		}
		v, ok := u.memo[i]
		if !ok {
			return nil, false, fmt.Errorf("memo entry %d is not defined (damaged pickle)", i)
		}
		u.push(v)

	case opGlobal:
		module, err := u.readLine()
		if err != nil {
			return nil, false, err
		}
		name, err := u.readLine()
		if err != nil {
			return nil, false, err
		}
		g, err := lookupGlobal(module, name)
		if err != nil {
			return nil, false, err
		}
		u.push(g)
	case opStackGlobal:
		name, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		module, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		m, ok1 := module.(string)
		n, ok2 := name.(string)
		if !ok1 || !ok2 {
			return nil, false, fmt.Errorf("module and name are %s and %s, want strings", typeName(module), typeName(name))
		}
		g, err := lookupGlobal(m, n)
		if err != nil {
			return nil, false, err
		}
		u.push(g)
	case opReduce:
		args, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		fn, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		g, ok := fn.(*global)
		if !ok {
			return nil, false, fmt.Errorf("calls %s, not a function", aType(fn))
		}
		a, ok := args.(tuple)
		if !ok {
			return nil, false, fmt.Errorf("%s called with %s of arguments, want a tuple", g, aType(args))
		}
		v, err := call(g, a, 0, &u.work)
		if err != nil {
			return nil, false, err
		}
		u.push(v)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		obj, err := u.top()
		if err != nil {
			return nil, false, err
		}
		if err := build(obj, state); err != nil {
			return nil, false, err
		}
	case opNewObj, opNewObjEx:
		return nil, false, errors.New("creates an instance of a Python class: only tensors, storages and dicts, lists, tuples of plain values are read")
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		if u.persistentLoad == nil {
			return nil, false, errors.New("persistent id where none is expected")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return nil, false, err
		}
		u.push(v)

	default:
		return nil, false, fmt.Errorf("unsupported pickle opcode 0x%02x (%q): not one torch.save writes for a state dict", op, rune(op))
	}
	return nil, false, nil
}

// decodeLong decodes a little-endian two's-complement integer of LONG1 or LONG4.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if shift := uint(64 - 8*len(b)); shift > 0 { // sign-extend
			return int64(v<<shift) >> shift
		}
		return int64(v)
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if x.IsInt64() {
		return x.Int64()
	}
	return x
}

func (u *unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*list)
	if !ok {
		return fmt.Errorf("appends to %s, not a list", aType(t))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItemsOnTop(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*dict)
	if !ok {
		return fmt.Errorf("sets items on %s, not a dict", aType(t))
	}
	return setItems(d, items)
}

func setItems(d *dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number (%d) of keys and values (damaged pickle)", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// aType is typeName with an indefinite article: "an int", "a dict".
func aType(v any) string {
	n := typeName(v)
	if strings.ContainsRune("aeiouAEIOU", rune(n[0])) {
		return "an " + n
	}
	return "a " + n
}
