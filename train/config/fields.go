package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// kind is the type of a key's value.
type kind int

const (
	kindInt kind = iota
	kindFloat
	kindString
	kindBool
	kindFloats
	kindInts
)

// describe names the kind as an error message says what was expected.
func (k kind) describe() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	case kindBool:
		return "a boolean (True or False)"
	case kindFloats:
		return "a list of numbers"
	case kindInts:
		return "a list of integers"
	default:
		return "a string"
	}
}

// field describes one key: its name, the Config field that holds it and how it is read.
type field struct {
	key     string
	index   int    // index of the Config field
	kind    kind   //
	help    string // flag usage
	ignored bool   // only meaningful to MindSpore's graph mode or runtime
	null    bool   // YAML null is accepted and means the zero value (MindCV's default None)
	scalar  bool   // a list key that also takes a single number (color_jitter)
	text    bool   // a string key that YAML may also give as a number or a list of numbers (re_value)
}

// get returns the field's value in c (slices copied).
func (f *field) get(c *Config) any {
	v := reflect.ValueOf(c).Elem().Field(f.index).Interface()
	switch x := v.(type) {
	case []float64:
		return append([]float64{}, x...)
	case []int:
		return append([]int{}, x...)
	}
	return v
}

// set stores v, which must be of the field's Go type, in c.
func (f *field) set(c *Config, v any) {
	reflect.ValueOf(c).Elem().Field(f.index).Set(reflect.ValueOf(v))
}

type table struct {
	fields []*field // in Config's order
	sorted []*field // by key
	byKey  map[string]*field
}

var (
	tableOnce sync.Once
	theTable  table
)

// fieldTable returns the keys, built once from Config's struct tags.
func fieldTable() *table {
	tableOnce.Do(func() {
		t := reflect.TypeOf(Config{})
		theTable.byKey = make(map[string]*field)
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			f := &field{
				key:     sf.Tag.Get("key"),
				index:   i,
				help:    sf.Tag.Get("help"),
				ignored: sf.Tag.Get("ignored") == "true",
				null:    sf.Tag.Get("null") == "true",
				scalar:  sf.Tag.Get("scalar") == "true",
				text:    sf.Tag.Get("text") == "true",
			}
			switch sf.Type {
			case reflect.TypeOf(0):
				f.kind = kindInt
			case reflect.TypeOf(0.0):
				f.kind = kindFloat
			case reflect.TypeOf(""):
				f.kind = kindString
			case reflect.TypeOf(false):
				f.kind = kindBool
			case reflect.TypeOf([]float64{}):
				f.kind = kindFloats
			case reflect.TypeOf([]int{}):
				f.kind = kindInts
			default:
				panic(fmt.Sprintf("config: field %s has unsupported type %s", sf.Name, sf.Type))
			}
			if f.key == "" || theTable.byKey[f.key] != nil {
				panic(fmt.Sprintf("config: field %s has a missing or repeated key %q", sf.Name, f.key))
			}
			theTable.fields = append(theTable.fields, f)
			theTable.byKey[f.key] = f
		}
		theTable.sorted = append([]*field{}, theTable.fields...)
		sort.Slice(theTable.sorted, func(i, j int) bool { return theTable.sorted[i].key < theTable.sorted[j].key })
	})
	return &theTable
}

// ParseBool reads a boolean as MindCV's str2bool does, in any case (True, false, yes, 0, ...).
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("want True or False (also true/false, yes/no, 1/0)")
}

// parseWord reads the value of key f from one word of a command line or environment variable.
// Lists are comma-separated, optionally in brackets: 0.08,1.0 or [0.08, 1.0].
func (f *field) parseWord(s string) (any, error) {
	switch f.kind {
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("want an integer")
		}
		return n, nil
	case kindFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("want a number")
		}
		return x, nil
	case kindBool:
		return ParseBool(s)
	case kindFloats:
		var xs []float64
		for _, w := range splitList(s) {
			x, err := strconv.ParseFloat(w, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number; want comma-separated numbers, such as %s", w, f.example())
			}
			xs = append(xs, x)
		}
		if xs == nil {
			xs = []float64{}
		}
		return xs, nil
	case kindInts:
		var ns []int
		for _, w := range splitList(s) {
			n, err := strconv.Atoi(w)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer; want comma-separated integers, such as %s", w, f.example())
			}
			ns = append(ns, n)
		}
		if ns == nil {
			ns = []int{}
		}
		return ns, nil
	default:
		return s, nil
	}
}

// example is a well-formed command-line value of the key, taken from its default.
func (f *field) example() string {
	d := Default()
	return formatValue(f.get(&d))
}

// splitList splits a comma-separated list, dropping surrounding brackets or parentheses and spaces.
// An empty string is an empty list.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '[' && s[len(s)-1] == ']' || s[0] == '(' && s[len(s)-1] == ')') {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// formatValue writes a value as a command line would give it: True/False for booleans (MindCV's
// spelling), comma-separated lists, and the shortest exact form of numbers.
func formatValue(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	case []float64:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = strconv.FormatFloat(e, 'g', -1, 64)
		}
		return strings.Join(s, ",")
	case []int:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = strconv.Itoa(e)
		}
		return strings.Join(s, ",")
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// quoteValue is formatValue with strings quoted, for error messages where an empty or spaced
// string must stay visible.
func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return formatValue(v)
}
