package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// entry is one key of a YAML file, read: the value (of the field's Go type) or what is wrong.
type entry struct {
	f     *field
	line  int
	value any
	err   error
}

// readYAML reads a flat YAML file of keys, as MindCV's configs are (their sections are only
// comments). It returns an entry per key in the file's order; an entry with an error stands for an
// unknown key, a repeated key or a value of the wrong type (its message leaves the file and line to
// the caller). The error is for the file as a whole
// (missing, unreadable, not YAML, not a mapping).
func readYAML(path string) ([]entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist: check the path given to -c/--config", path)
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return parseYAML(path, data)
}

// parseYAML is readYAML on the content of a file; path names it in errors.
func parseYAML(path string, data []byte) ([]entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s is not valid YAML: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of keys to values (key: value, one a line), not %s", path, root.Line, describeNode(root))
	}
	t := fieldTable()
	seen := make(map[string]int)
	var out []entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			out = append(out, entry{line: k.Line, err: fmt.Errorf("a key must be a plain name, not %s", describeNode(k))})
			continue
		}
		key := k.Value
		f := t.byKey[key]
		if f == nil {
			msg := fmt.Sprintf("unknown key %q", key)
			if key == ConfigFlag {
				msg += " (a config file cannot name another; give -c/--config on the command line)"
			} else if s := suggest(key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (--help lists the keys)"
			}
			out = append(out, entry{line: k.Line, err: errors.New(msg)})
			continue
		}
		if first, ok := seen[key]; ok {
			out = append(out, entry{f: f, line: k.Line, err: fmt.Errorf("key %q is given twice (first on line %d); keep one", key, first)})
			continue
		}
		seen[key] = k.Line
		val, err := f.decodeNode(v)
		if err != nil {
			got := showNode(v) + " is " + describeNode(v)
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				got = "empty (null)"
			}
			out = append(out, entry{f: f, line: k.Line, err: fmt.Errorf("%s: %s, want %s", key, got, err)})
			continue
		}
		out = append(out, entry{f: f, line: k.Line, value: val})
	}
	return out, nil
}

// errType is decodeNode's error: the message is what the key wants.
type errType string

func (e errType) Error() string { return string(e) }

// decodeNode reads the value of key f from a YAML node. Its error says what the key wants.
func (f *field) decodeNode(n *yaml.Node) (any, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	want := errType(f.kind.describe())
	if f.scalar {
		want = errType("a number or a list of numbers")
	} else if f.text {
		want = errType("a number, a list of numbers or a string")
	}
	isNull := n.Kind == yaml.ScalarNode && n.Tag == "!!null"
	if isNull {
		switch {
		case f.kind == kindString:
			return "", nil
		case f.null:
			var c Config
			return f.get(&c), nil
		}
		return nil, want
	}
	switch f.kind {
	case kindInt:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			var x int
			if err := n.Decode(&x); err == nil {
				return x, nil
			}
			return nil, errType("an integer that fits in 64 bits")
		}
	case kindFloat:
		if x, ok := nodeFloat(n); ok {
			return x, nil
		}

	case kindBool:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Tag == "!!str" || n.Tag == "!!int") {
			if b, err := ParseBool(n.Value); err == nil {
				return b, nil
			}
		}
	case kindString:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			return n.Value, nil
		}
		if f.text {
			if _, ok := nodeFloat(n); ok {
				return n.Value, nil
			}
			if xs, ok := nodeFloats(n); ok {
				return formatValue(xs), nil
			}
		}
	case kindFloats:
		if xs, ok := nodeFloats(n); ok {
			return xs, nil
		}
		if x, ok := nodeFloat(n); ok && f.scalar {
			return []float64{x}, nil
		}
	case kindInts:
		if n.Kind == yaml.SequenceNode {
			ns := []int{}
			ok := true
			for _, e := range n.Content {
				var x int
				if e.Kind != yaml.ScalarNode || e.Tag != "!!int" || e.Decode(&x) != nil {
					ok = false
					break
				}
				ns = append(ns, x)
			}
			if ok {
				return ns, nil
			}
		}
	}
	return nil, want
}

// nodeFloat reads a number (an integer or a float, .nan and .inf included) from a scalar node.
func nodeFloat(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, false
	}
	var x float64
	if err := n.Decode(&x); err != nil {
		return 0, false
	}
	return x, true
}

// nodeFloats reads a list of numbers from a sequence node.
func nodeFloats(n *yaml.Node) ([]float64, bool) {
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	xs := []float64{}
	for _, e := range n.Content {
		x, ok := nodeFloat(e)
		if !ok {
			return nil, false
		}
		xs = append(xs, x)
	}
	return xs, true
}

// describeNode says what kind of YAML value n is.
func describeNode(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "empty (null)"
		case "!!str":
			return "a string"
		}
		return "a value tagged " + n.Tag
	}
	return "not a value"
}

// showNode writes a YAML value for an error message: strings quoted, lists in flow style.
func showNode(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		if n.Tag == "!!null" {
			return "null"
		}
		return n.Value
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, e := range n.Content {
			parts[i] = showNode(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, showNode(n.Content[i])+": "+showNode(n.Content[i+1]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "?"
}
