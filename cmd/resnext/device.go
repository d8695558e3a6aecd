package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/ascend"
	"github.com/resnext/resnext/ops/cpu"
)

// deviceOptions are the flags that choose where kernels run, shared by every command that runs a
// model. MindSpore spells the targets Ascend and CPU; any case is accepted.
type deviceOptions struct {
	target  string
	threads int
	// ascend are the Ascend backend's options (the card comes from $DEVICE_ID).
	ascend ascend.Options
}

func (d *deviceOptions) register(f *pflag.FlagSet) {
	f.StringVar(&d.target, "device_target", "auto",
		"where to run: Ascend (the card in $DEVICE_ID, default 0), CPU, or auto (Ascend when usable, else CPU)")
	f.IntVar(&d.threads, "threads", 0, "CPU threads for the kernels (0: all cores)")
}

// open returns the backend the flags ask for, saying in the log which one and why.
func (d deviceOptions) open(log *zap.Logger) (ops.Backend, error) {
	o := d.ascend
	o.Device = -1
	return openDeviceWith(d.target, d.threads, o, log)
}

// openDevice returns the backend of a device_target (Ascend, CPU or auto) with threads CPU
// threads (0: all cores), saying in the log which one and why.
func openDevice(target string, threads int, log *zap.Logger) (ops.Backend, error) {
	return openDeviceWith(target, threads, ascend.Options{Device: -1}, log)
}

// openDeviceWith is openDevice with the Ascend backend's options (Device -1: the card in $DEVICE_ID).
func openDeviceWith(target string, threads int, ao ascend.Options, log *zap.Logger) (ops.Backend, error) {
	var b ops.Backend
	switch strings.ToLower(target) {
	case "cpu":
		b = cpu.New(cpu.Options{Threads: threads})
	case "ascend":
		var err error
		if b, err = openAscend(ao); err != nil {
			return nil, fmt.Errorf("--device_target Ascend: %w (--device_target CPU runs on the CPU)", err)
		}
	case "auto":
		if err := acl.Available(); err != nil {
			log.Info("Ascend is not usable here, running on the CPU", zap.String("reason", err.Error()))
			b = cpu.New(cpu.Options{Threads: threads})
			break
		}
		var err error
		if b, err = openAscend(ao); err != nil {
			return nil, fmt.Errorf("--device_target auto found Ascend but could not open it: %w (use --device_target CPU to run on the CPU)", err)
		}
	default:
		return nil, fmt.Errorf("--device_target %q: want Ascend, CPU or auto", target)
	}
	log.Info("backend", zap.String("device", b.Device()))
	return b, nil
}

// openAscend opens the card o names (-1: the one $DEVICE_ID names, 0 when unset).
func openAscend(o ascend.Options) (ops.Backend, error) {
	return ascend.New(o)
}
