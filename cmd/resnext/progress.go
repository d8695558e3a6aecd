package main

import (
	"fmt"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/resnext/resnext/train"
)

// barProgress shows each epoch's steps as a progress bar on standard error, with the loss and the
// learning rate.
type barProgress struct {
	bar   *progressbar.ProgressBar
	epoch string
}

// newProgress returns a progress bar when standard error is a terminal, else nil: then the engine
// logs a line every log_interval steps.
func newProgress() train.Progress {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return &barProgress{}
}

func (p *barProgress) Start(epoch, epochs, steps, done int) {
	p.epoch = fmt.Sprintf("epoch %d/%d", epoch, epochs)
	p.bar = progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(p.epoch),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("step"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	if done > 0 {
		p.bar.Set(done)
	}
}

func (p *barProgress) Step(done int) { p.bar.Set(done) }

func (p *barProgress) Report(loss, lr float64) {
	p.bar.Describe(fmt.Sprintf("%s  loss %.4f  lr %.5f", p.epoch, loss, lr))
}

func (p *barProgress) Done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
