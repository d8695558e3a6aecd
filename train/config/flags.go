package config

import (
	"github.com/spf13/pflag"
)

// ConfigFlag is the name of the flag (shorthand -c) and, as RESNEXT_CONFIG, of the environment
// variable that name the YAML file.
const ConfigFlag = "config"

// EnvPrefix starts the environment variable of every key: RESNEXT_ and the key in upper case.
const EnvPrefix = "RESNEXT_"

// flagValue is the pflag.Value of one key. It holds the typed value its last Set parsed.
// Booleans need a word (NoOptDefVal stays empty), so pflag takes the next argument as the value:
// --distribute False.
type flagValue struct {
	f *field
	v any
}

// Set parses one command-line word.
func (fv *flagValue) Set(s string) error {
	v, err := fv.f.parseWord(s)
	if err != nil {
		return err
	}
	fv.v = v
	return nil
}

// String formats the value as it would be written on the command line.
func (fv *flagValue) String() string { return formatValue(fv.v) }

// Type names the value's type in usage messages.
func (fv *flagValue) Type() string {
	switch fv.f.kind {
	case kindInt:
		return "int"
	case kindFloat:
		return "float64" // as pflag's own, so FlagSet.GetFloat64 works; usage shows "float"
	case kindBool:
		return "bool" // as pflag's own, so FlagSet.GetBool works
	case kindFloats:
		return "floats"
	case kindInts:
		return "ints"
	}
	return "string"
}

// Register defines on fs one flag per key, named as the key (--batch_size), each with its default
// from Default, and -c/--config for the YAML file. A flag fs already has is left as it is (Resolve
// reads it all the same), so commands may define some keys themselves.
func Register(fs *pflag.FlagSet) {
	if fs.Lookup(ConfigFlag) == nil {
		short := "c"
		if fs.ShorthandLookup(short) != nil {
			short = ""
		}
		fs.StringP(ConfigFlag, short, "", "YAML file of configuration keys (MindCV's format); flags and RESNEXT_<KEY> environment variables override it")
	}
	d := Default()
	for _, f := range fieldTable().fields {
		if fs.Lookup(f.key) != nil {
			continue
		}
		usage := f.help
		if f.kind == kindBool {
			// pflag prints no placeholder for a "bool" flag unless the usage names one in
			// backquotes; this one needs a word.
			usage += "; `True|False`"
		}
		fs.Var(&flagValue{f: f, v: f.get(&d)}, f.key, usage)
	}
}
