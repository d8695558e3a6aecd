package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

// logged runs fn with the logger format asks for (see newLogger), flushed when fn returns.
func logged(format string, fn func(log *zap.Logger) error) error {
	log, err := newLogger(format)
	if err != nil {
		return err
	}
	defer log.Sync()
	return fn(log)
}

// newLogger returns the command's logger: human-readable lines ("console", coloured on a terminal)
// or one JSON object per line ("json"), on standard error.
func newLogger(format string) (*zap.Logger, error) {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	switch format {
	case "console", "":
		enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		if term.IsTerminal(int(os.Stderr.Fd())) {
			enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc.ConsoleSeparator = "  "
		encoder = zapcore.NewConsoleEncoder(enc)
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	default:
		return nil, fmt.Errorf("--log_format %q: want console or json", format)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(os.Stderr), zap.InfoLevel)
	return zap.New(core), nil
}
