package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Sources a key's value may come from, as Report.Set records them.
const (
	SourceDefault = "default"
	SourceYAML    = "yaml"
	SourceEnv     = "env"
	SourceFlag    = "flag"
)

// Report says what Resolve found worth logging once.
type Report struct {
	File    string            // the YAML file read ("" if none)
	Ignored []string          // keys given (file, environment or flag) that only mean something to MindSpore's graph mode or runtime, as "key=value", sorted
	Set     map[string]string // key -> where its value came from ("default", "yaml", "env", "flag"), for a debug log
}

// Resolve builds the Config from Default, then the YAML file given by -c/--config (or
// $RESNEXT_CONFIG), then RESNEXT_<KEY> environment variables, then the flags set on the command
// line (fs.Changed), key by key, and validates it. It reports every problem (unknown keys, values of
// the wrong type, values out of range) in one error, one per line, each naming the key, the value
// and where it came from. fs is the parsed flag set Register defined flags on; nil means no flags.
// The Report is returned even with an error.
func Resolve(fs *pflag.FlagSet) (Config, *Report, error) {
	return resolve(fs, "", nil)
}

// ResolveWith is Resolve with a built-in file: when neither -c/--config nor $RESNEXT_CONFIG names a
// file, data, the YAML content of a file called name, stands in for it (Report.File is name with
// " (built in)"). A command uses it to run its own recipe by default.
func ResolveWith(fs *pflag.FlagSet, name string, data []byte) (Config, *Report, error) {
	return resolve(fs, name, data)
}

// resolve is Resolve, with builtin (named name) as the file when none is given.
func resolve(fs *pflag.FlagSet, name string, builtin []byte) (Config, *Report, error) {
	t := fieldTable()
	c := Default()
	rep := &Report{Set: make(map[string]string, len(t.fields))}
	for _, f := range t.fields {
		rep.Set[f.key] = SourceDefault
	}
	where := make(map[string]origin) // key -> where its value came from, for error messages
	var probs []located

	// The YAML file: the flag when set, else the environment, else the flag's default, else the
	// built-in file.
	path, given := "", false
	if fs != nil {
		if fl := fs.Lookup(ConfigFlag); fl != nil {
			path, given = fl.Value.String(), fl.Changed
		}
	}
	if !given {
		if p, ok := os.LookupEnv(EnvPrefix + strings.ToUpper(ConfigFlag)); ok {
			path = p
		}
	}
	var entries []entry
	var err error
	switch {
	case path != "":
		rep.File = path
		entries, err = readYAML(path)
	case builtin != nil:
		path = name + " (built in)"
		rep.File = path
		entries, err = parseYAML(path, builtin)
	}
	if err != nil {
		probs = append(probs, located{text: err.Error()})
	}
	for _, e := range entries {
		at := origin{rank: rankYAML, line: e.line, text: fmt.Sprintf("%s:%d", path, e.line)}
		if e.err != nil {
			probs = append(probs, located{at, e.err.Error()})
			continue
		}
		e.f.set(&c, e.value)
		rep.Set[e.f.key] = SourceYAML
		where[e.f.key] = at
	}

	// The environment.
	for _, f := range t.fields {
		name := EnvPrefix + strings.ToUpper(f.key)
		s, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		at := origin{rank: rankEnv, text: "environment " + name}
		v, err := f.parseWord(s)
		if err != nil {
			probs = append(probs, located{at, fmt.Sprintf("%s = %q: %v", f.key, s, err)})
			continue
		}
		f.set(&c, v)
		rep.Set[f.key] = SourceEnv
		where[f.key] = at
	}

	// The command line.
	if fs != nil {
		for _, f := range t.fields {
			fl := fs.Lookup(f.key)
			if fl == nil || !fl.Changed {
				continue
			}
			at := origin{rank: rankFlag, text: "flag --" + f.key}
			var v any
			if fv, ok := fl.Value.(*flagValue); ok && fv.f == f {
				v = fv.v
			} else {
				// A flag the command defined itself: read it back from its text.
				var err error
				if v, err = f.parseWord(fl.Value.String()); err != nil {
					probs = append(probs, located{at, fmt.Sprintf("%s = %q: %v", f.key, fl.Value.String(), err)})
					continue
				}
			}
			f.set(&c, v)
			rep.Set[f.key] = SourceFlag
			where[f.key] = at
		}
	}

	for _, p := range c.problems() {
		at, ok := where[p.key]
		if !ok {
			at = origin{rank: rankDefault}
		}
		probs = append(probs, located{at, p.String()})
	}
	// The file's problems in the file's order, then the environment's, the flags', the defaults'.
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i].at, probs[j].at
		return a.rank < b.rank || a.rank == b.rank && a.line < b.line
	})

	for _, f := range t.sorted {
		if f.ignored && rep.Set[f.key] != SourceDefault {
			rep.Ignored = append(rep.Ignored, f.key+"="+formatValue(f.get(&c)))
		}
	}

	if len(probs) > 0 {
		errs := make([]error, len(probs))
		for i, p := range probs {
			if p.at.text != "" {
				p.text = p.at.text + ": " + p.text
			}
			errs[i] = errors.New(p.text)
		}
		return c, rep, errors.Join(errs...)
	}
	return c, rep, nil
}

// origin is where a value came from, for ordering and prefixing error lines.
type origin struct {
	rank int    // rankFile ... rankDefault
	line int    // line in the YAML file
	text string // "file.yaml:12", "environment RESNEXT_LR", "flag --lr"; "" for defaults
}

const (
	rankFile = iota
	rankYAML
	rankEnv
	rankFlag
	rankDefault
)

// located is one problem and where the value at fault came from.
type located struct {
	at   origin
	text string
}
