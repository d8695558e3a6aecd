package torch

import (
	"archive/zip"
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nestedPairs pushes a tuple nested depth times, each level a pair of the level below it (the same
// value twice, by DUP or by memo GET): a few bytes of pickle for a value of 2^depth leaves.
func nestedPairs(p *pk, depth int, memo bool) *pk {
	p.op(opBinInt1, 1)
	for range depth {
		if memo {
			p.op(opBinPut, 0, opBinGet, 0, opTuple2)
		} else {
			p.op(opDup, opTuple2)
		}
	}
	return p
}

// checkFast fails when err is nil, does not mention want, or took longer than 10 seconds (what
// these inputs once cost was exponential: hours; a loaded machine must not fail the test).
func checkFast(t *testing.T, start time.Time, err error, want string) {
	t.Helper()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one mentioning %q", err, want)
	}
}

// TestSharedTupleKey is the reproducer of an exponential blow-up: a dict key made of nested shared
// tuples, whose hashing once walked all 2^60 leaves.
func TestSharedTupleKey(t *testing.T) {
	for _, memo := range []bool{false, true} {
		data := pickle(func(p *pk) {
			p.op(opEmptyDict)
			nestedPairs(p, 60, memo)
			p.op(opNone, opSetItem)
		})
		start := time.Now()
		_, err := unpickle(data)
		checkFast(t, start, err, "dict key is a tuple too large to compare")
		if len(err.Error()) > 300 {
			t.Errorf("error of %d bytes", len(err.Error()))
		}
	}
}

// TestSharedTupleKeyWhole is the same reproducer as a whole .pth file (a legacy one, as the report
// had): Decode fails fast.
func TestSharedTupleKeyWhole(t *testing.T) {
	var p pk
	p.op(legacyHead(t)...)
	p.op(opProto, 2, opEmptyDict, opStop, opProto, 2, opEmptyDict)
	nestedPairs(&p, 60, true)
	p.op(opNone, opSetItem, opStop)
	start := time.Now()
	_, err := decodeBytes(p.Bytes())
	checkFast(t, start, err, "too large to compare")
}

// legacyHead returns the magic number and protocol pickles of the legacy fixture.
func legacyHead(t *testing.T) []byte {
	return readFile(t, "legacy.pth")[:0x15]
}

// TestHashBudget: keys each within the limit of one key, hashed again and again, exhaust the
// pickle's budget instead of running for minutes.
func TestHashBudget(t *testing.T) {
	data := pickle(func(p *pk) {
		p.op(opEmptyDict)
		nestedPairs(p, 11, false) // 2048 leaves: about 20000 units per hashing
		p.op(opBinPut, 1, opPop)
		for range 2000 {
			p.op(opBinGet, 1, opNone, opSetItem)
		}
	})
	start := time.Now()
	_, err := unpickle(data)
	checkFast(t, start, err, "units of work (items and bytes) in all")

	// Long string keys are charged too.
	long := strings.Repeat("k", 1<<16)
	data = pickle(func(p *pk) {
		p.op(opEmptyDict).str(long).op(opBinPut, 1, opPop)
		for range 1000 {
			p.op(opBinGet, 1, opNone, opSetItem)
		}
	})
	start = time.Now()
	_, err = unpickle(data)
	checkFast(t, start, err, "units of work (items and bytes) in all")
}

// TestMemoLimit: memo entries beyond maxMemo are refused.
func TestMemoLimit(t *testing.T) {
	var p pk
	p.op(opProto, 4, opNone)
	p.Write(bytes.Repeat([]byte{opMemoize}, maxMemo+1))
	p.op(opStop)
	_, err := unpickle(p.Bytes())
	checkFast(t, time.Now(), err, "more than 1048576 memo entries")
}

// TestLongErrorMessages: errors quote at most a short excerpt of what the file holds, however long
// (a reported legacy file with a protocol integer of megabytes printed all of it).
func TestLongErrorMessages(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	legacy := func(proto func(p *pk)) []byte {
		p := new(pk).op(legacyHead(t)[:0x0f]...).op(opProto, 2)
		proto(p)
		return p.op(opStop).Bytes()
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"huge protocol int", legacy(func(p *pk) {
			p.op(opLong4, 0, 0, 0x10, 0).Write(bytes.Repeat([]byte{0x7f}, 1<<20))
		}), "an int of 1048576 bytes"},
		{"long protocol int", legacy(func(p *pk) {
			p.op(opLong1, 255).Write(bytes.Repeat([]byte{0x7f}, 255))
		}), "protocol version 6"},
		{"protocol string", legacy(func(p *pk) { p.str(long) }), `protocol version "xxxx`},
		{"storage kind", makeZip(t, []entry{{name: "archive/data.pkl", data: pickle(func(p *pk) {
			p.op(opMark).str(long).op(opTuple, opBinPersID)
		})}}), "persistent id of unknown kind \"xxx"},
		{"storage key", makeZip(t, []entry{{name: "archive/data.pkl", data: stateDict("FloatStorage", long, 1, 0, []int32{1}, []int32{1})}}),
			"the archive has no entry \"archive/data/xxx"},
		{"entry name", makeZip(t, []entry{{name: "archive/data.pkl", data: new(pk).str(long).op(opStop).Bytes()}}),
			"the saved object is a str"},
		{"global name", legacy(func(p *pk) {
			p.op(opBinInt2, 0xe9, 0x03, opStop).op(opProto, 2, opEmptyDict, opStop, opProto, 2).str(long).str(long).op(opStackGlobal)
		}),
			"global \"xxx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeBytes(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes: %.300s", len(err.Error()), err)
			}
		})
	}
}

// TestZipBomb: a deflated storage of zeros, declared at its true size, may not inflate beyond
// maxRatio times its compressed size; a deflated data.pkl neither.
func TestZipBomb(t *testing.T) {
	const numel = 4 << 20 // 16 MiB of float32 zeros, about 16 KiB deflated
	data := makeZip(t, []entry{
		{name: "archive/data.pkl", data: stateDict("FloatStorage", "0", numel, 0, []int32{numel}, []int32{1})},
		{name: "archive/data/0", data: make([]byte, 4*numel), method: zip.Deflate},
	})
	start := time.Now()
	_, err := decodeBytes(data)
	checkFast(t, start, err, "times its size")
	if !strings.Contains(err.Error(), "archive/data/0") {
		t.Errorf("error %v does not name the entry", err)
	}

	pkl := append(bytes.Repeat([]byte{opNone, opPop}, 8<<20), stateDict("FloatStorage", "0", 1, 0, []int32{1}, []int32{1})...)
	data = makeZip(t, []entry{
		{name: "archive/data.pkl", data: pkl, method: zip.Deflate},
		{name: "archive/data/0", data: make([]byte, 4)},
	})
	start = time.Now()
	_, err = decodeBytes(data)
	checkFast(t, start, err, "archive/data.pkl: compressed entry of")

	// A deflated storage within the ratio is read.
	data = makeZip(t, []entry{
		{name: "archive/data.pkl", data: stateDict("FloatStorage", "0", 4, 0, []int32{4}, []int32{1}), method: zip.Deflate},
		{name: "archive/data/0", data: make([]byte, 16), method: zip.Deflate},
	})
	if _, err := decodeBytes(data); err != nil {
		t.Fatal(err)
	}
}

// TestZipDeclaredSizes: an entry whose zip header declares sizes far beyond the file (and the
// pickle a storage to match) is refused without allocating what it declares.
func TestZipDeclaredSizes(t *testing.T) {
	const numel = 1 << 40 // 4 TiB of float32
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		pw, err := w.Create("archive/data.pkl")
		if err != nil {
			t.Fatal(err)
		}
		p := new(pk).op(opProto, 2, opEmptyDict).str("w")
		p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
		p.op(opMark).str("storage").global("torch", "FloatStorage").str("0").str("cpu")
		p.op(opLong1, 8).op(0, 0, 0, 0, 0, 1, 0, 0).op(opTuple, opBinPersID)
		p.int(0).ints(1).ints(1).op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
		p.op(opTuple, opReduce, opSetItem, opStop)
		pw.Write(p.Bytes())
		dw, err := w.CreateRaw(&zip.FileHeader{Name: "archive/data/0", Method: method,
			CompressedSize64: 4 * numel, UncompressedSize64: 4 * numel})
		if err != nil {
			t.Fatal(err)
		}
		dw.Write(make([]byte, 64))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = decodeBytes(buf.Bytes())
		runtime.ReadMemStats(&after)
		checkFast(t, start, err, "archive/data/0")
		t.Logf("method %d: %v", method, err)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("method %d: allocated %d bytes", method, grew)
		}
	}
}
