package metrics

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the project.
const namespace = "resnext"

// StepBuckets are the upper bounds, in seconds, of the resnext_train_step_seconds histogram: four
// per decade from 1 ms to 100 s (a CPU step of a large model takes tens of seconds, an Ascend step
// tens of milliseconds).
var StepBuckets = func() []float64 {
	b := make([]float64, 21)
	for i := range b {
		b[i] = math.Pow(10, -3+float64(i)/4)
	}
	return b
}()

// Prom holds the Prometheus metrics of a training run in a private registry, which also carries the
// Go runtime and process collectors. Names follow Prometheus conventions: namespace "resnext", base
// units (seconds, fractions), "_total" only on counters.
//
// Its methods are safe for concurrent use. A nil *Prom ignores every call, so a run without
// --metrics_addr can call them unconditionally.
type Prom struct {
	reg *prometheus.Registry

	loss, lr, lossScale, imgPerS, epoch prometheus.Gauge
	evalTop1, evalTop5, evalLoss        prometheus.Gauge
	images, steps, dataWait             prometheus.Counter
	skipped, overflow                   prometheus.Counter
	stepSeconds                         prometheus.Histogram
}

// NewProm returns the metrics of a training run, registered in a new registry.
func NewProm() *Prom {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	}
	p := &Prom{
		reg:       prometheus.NewRegistry(),
		loss:      gauge("train_loss", "Training loss of the last step."),
		lr:        gauge("learning_rate", "Learning rate of the last step."),
		lossScale: gauge("loss_scale", "Loss scale of the last step."),
		imgPerS:   gauge("train_images_per_second", "Training throughput over the last logging interval, in images per second."),
		epoch:     gauge("epoch", "Current epoch (1-based)."),
		evalTop1:  gauge("eval_top1", "Top-1 accuracy of the last validation pass, as a fraction."),
		evalTop5:  gauge("eval_top5", "Top-5 accuracy of the last validation pass, as a fraction."),
		evalLoss:  gauge("eval_loss", "Mean loss of the last validation pass."),
		images:    counter("train_images_total", "Training images processed."),
		steps:     counter("train_steps_total", "Training steps (optimizer updates) done."),
		dataWait:  counter("data_wait_seconds_total", "Seconds the training steps waited for data."),
		skipped:   counter("skipped_images_total", "Unreadable images skipped."),
		overflow:  counter("overflow_steps_total", "Training steps skipped because the gradients overflowed."),
		stepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "train_step_seconds",
			Help:    "Wall time of a training step, in seconds.",
			Buckets: StepBuckets,
		}),
	}
	p.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		p.loss, p.lr, p.lossScale, p.imgPerS, p.epoch, p.evalTop1, p.evalTop5, p.evalLoss,
		p.images, p.steps, p.dataWait, p.skipped, p.overflow, p.stepSeconds,
	)
	return p
}

// Registry returns the registry holding the metrics, for serving them elsewhere or registering more.
func (p *Prom) Registry() *prometheus.Registry {
	if p == nil {
		return nil
	}
	return p.reg
}

// addCounter adds v to c when v is a positive finite number (a counter cannot go down).
func addCounter(c prometheus.Counter, v float64) {
	if v > 0 && !math.IsInf(v, 1) {
		c.Add(v)
	}
}

// Step records one training step: its loss, learning rate and loss scale (gauges), the images it
// took (resnext_train_images_total), one more step (resnext_train_steps_total), its wall time
// (the resnext_train_step_seconds histogram) and the time it waited for data
// (resnext_data_wait_seconds_total). Negative or non-finite times and counts are not counted.
func (p *Prom) Step(loss, lr, lossScale float64, images int, stepSeconds, dataWaitSeconds float64) {
	if p == nil {
		return
	}
	p.loss.Set(loss)
	p.lr.Set(lr)
	p.lossScale.Set(lossScale)
	addCounter(p.images, float64(images))
	p.steps.Inc()
	addCounter(p.dataWait, dataWaitSeconds)
	if stepSeconds >= 0 && !math.IsInf(stepSeconds, 1) {
		p.stepSeconds.Observe(stepSeconds)
	}
}

// ImagesPerSecond sets resnext_train_images_per_second, the throughput over the last logging interval.
func (p *Prom) ImagesPerSecond(v float64) {
	if p == nil {
		return
	}
	p.imgPerS.Set(v)
}

// Epoch sets resnext_epoch to the current (1-based) epoch.
func (p *Prom) Epoch(epoch int) {
	if p == nil {
		return
	}
	p.epoch.Set(float64(epoch))
}

// Eval sets resnext_eval_top1, resnext_eval_top5 (fractions in [0,1]) and resnext_eval_loss from a validation pass.
func (p *Prom) Eval(top1, top5, loss float64) {
	if p == nil {
		return
	}
	p.evalTop1.Set(top1)
	p.evalTop5.Set(top5)
	p.evalLoss.Set(loss)
}

// Skipped adds n unreadable images to resnext_skipped_images_total (n <= 0 adds nothing).
func (p *Prom) Skipped(n int) {
	if p == nil {
		return
	}
	addCounter(p.skipped, float64(n))
}

// Overflow counts one step skipped for overflowing gradients in resnext_overflow_steps_total.
func (p *Prom) Overflow() {
	if p == nil {
		return
	}
	p.overflow.Inc()
}

// Server serves a Prom's metrics over HTTP; see Prom.Serve.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Serve listens on addr (HOST:PORT; port 0 picks a free one) and serves the metrics on /metrics
// until Close. A bad address, or one that cannot be listened on, is an error naming --metrics_addr.
func (p *Prom) Serve(addr string) (*Server, error) {
	if p == nil {
		return nil, errors.New("serving metrics: no metrics (nil Prom)")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("--metrics_addr %q: want HOST:PORT, such as 127.0.0.1:9090 or :9090 (%v)", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics_addr %q: %w; choose another address or port", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "resnext training metrics: /metrics")
	})
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr returns the address the server listens on (with the port chosen when addr's port was 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, closing its listener and open connections, and waits for it to end.
func (s *Server) Close() error {
	cerr := s.srv.Close()
	err := <-s.done
	s.done <- err // a second Close returns at once
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server on %s: %w", s.Addr(), err)
	}
	if cerr != nil {
		return fmt.Errorf("closing the metrics server on %s: %w", s.Addr(), cerr)
	}
	return nil
}
