package acl

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var updateCANNSymbols = flag.Bool("update-cann-symbols", false,
	"rewrite testruntime/csrc/cann_symbols.h from the RX_SYMBOLS block of shim.h")

const (
	symbolsBegin  = "/* BEGIN RX_SYMBOLS"
	symbolsEnd    = "/* END RX_SYMBOLS */"
	symbolsMirror = "testruntime/csrc/cann_symbols.h"
)

// symbolsBlock returns the text from the BEGIN RX_SYMBOLS line through the END RX_SYMBOLS line.
func symbolsBlock(t *testing.T, name string, src []byte) []byte {
	t.Helper()
	i := bytes.Index(src, []byte(symbolsBegin))
	j := bytes.Index(src, []byte(symbolsEnd))
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q block", name, symbolsBegin, symbolsEnd)
	}
	return src[i : j+len(symbolsEnd)]
}

// mirrorHeader is the whole of testruntime/csrc/cann_symbols.h for the block of shim.h.
func mirrorHeader(block []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`/* cann_symbols.h: the CANN prototypes package acl binds, mirrored verbatim from the RX_SYMBOLS
 * block of acl/shim.h (the source; TestCANNSymbolsMirrored in package acl fails while the two
 * differ, and rewrites this file with -update-cann-symbols). Do not edit by hand.
 *
 * RX_SYMBOLS(X) expands X(name, library, REQ or OPT, return type, (parameters)) per symbol. The
 * includer defines the CANN types (aclTensor, aclDataType, aclrtStream, ...) first; the library and
 * REQ/OPT arguments are tokens for the binding's loader. testrt.h declares every symbol from it, so
 * the compiler checks each stand-in definition against the binding's prototype.
 */
#ifndef RESNEXT_CANN_SYMBOLS_H
#define RESNEXT_CANN_SYMBOLS_H

`)
	b.Write(block)
	b.WriteString("\n\n#endif\n")
	return b.Bytes()
}

// TestCANNSymbolsMirrored checks that the test runtime declares its stand-ins from exactly the
// prototypes the binding loads.
func TestCANNSymbolsMirrored(t *testing.T) {
	shim, err := os.ReadFile("shim.h")
	if err != nil {
		t.Fatal(err)
	}
	want := mirrorHeader(symbolsBlock(t, "shim.h", shim))
	if *updateCANNSymbols {
		if err := os.WriteFile(symbolsMirror, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(symbolsMirror)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		t.Fatalf("%s is not the RX_SYMBOLS block of shim.h (first difference at line %d); run\n"+
			"\tgo test ./acl -run TestCANNSymbolsMirrored -update-cann-symbols", symbolsMirror, line+1)
	}
}
