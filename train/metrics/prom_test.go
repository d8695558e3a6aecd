package metrics

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	// Ask for nothing in particular: the handler answers in the text format.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return families
}

func TestPromServe(t *testing.T) {
	p := NewProm()
	s, err := p.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.HasSuffix(s.Addr(), ":0") || !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the chosen port", s.Addr())
	}

	p.Epoch(2)
	p.Step(2.5, 0.1, 1024, 32, 0.004, 0.001)
	p.Step(2.25, 0.09, 1024, 32, 0.3, 0.002)
	p.Step(2.0, 0.08, 512, 16, 40, 0.5)
	p.Step(1.9, 0.07, 512, 16, -1, -1) // a negative time is not counted
	p.ImagesPerSecond(250.5)
	p.Eval(0.75, 0.92, 1.1)
	p.Skipped(2)
	p.Skipped(3)
	p.Skipped(-4)
	p.Overflow()

	families := scrape(t, "http://"+s.Addr()+"/metrics")
	want := []struct {
		name  string
		typ   dto.MetricType
		value float64
	}{
		{"resnext_train_loss", dto.MetricType_GAUGE, 1.9},
		{"resnext_learning_rate", dto.MetricType_GAUGE, 0.07},
		{"resnext_loss_scale", dto.MetricType_GAUGE, 512},
		{"resnext_train_images_total", dto.MetricType_COUNTER, 96},
		{"resnext_train_steps_total", dto.MetricType_COUNTER, 4},
		{"resnext_data_wait_seconds_total", dto.MetricType_COUNTER, 0.503},
		{"resnext_train_images_per_second", dto.MetricType_GAUGE, 250.5},
		{"resnext_epoch", dto.MetricType_GAUGE, 2},
		{"resnext_eval_top1", dto.MetricType_GAUGE, 0.75},
		{"resnext_eval_top5", dto.MetricType_GAUGE, 0.92},
		{"resnext_eval_loss", dto.MetricType_GAUGE, 1.1},
		{"resnext_skipped_images_total", dto.MetricType_COUNTER, 5},
		{"resnext_overflow_steps_total", dto.MetricType_COUNTER, 1},
	}
	for _, w := range want {
		f, ok := families[w.name]
		if !ok {
			t.Errorf("%s missing from /metrics", w.name)
			continue
		}
		if f.GetType() != w.typ {
			t.Errorf("%s: type %v, want %v", w.name, f.GetType(), w.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", w.name)
		}
		m := f.GetMetric()[0]
		var v float64
		switch w.typ {
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		}
		if math.Abs(v-w.value) > 1e-9 {
			t.Errorf("%s = %v, want %v", w.name, v, w.value)
		}
	}

	h, ok := families["resnext_train_step_seconds"]
	if !ok {
		t.Fatal("resnext_train_step_seconds missing from /metrics")
	}
	if h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("resnext_train_step_seconds: type %v, want histogram", h.GetType())
	}
	hist := h.GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 3 || math.Abs(hist.GetSampleSum()-40.304) > 1e-9 {
		t.Errorf("step histogram: count %d, sum %v; want 3, 40.304", hist.GetSampleCount(), hist.GetSampleSum())
	}
	buckets := hist.GetBucket()
	if len(buckets) != len(StepBuckets)+1 || !math.IsInf(buckets[len(buckets)-1].GetUpperBound(), 1) {
		t.Fatalf("%d buckets, want %d and +Inf", len(buckets), len(StepBuckets))
	}
	if lo, hi := buckets[0].GetUpperBound(), buckets[len(buckets)-2].GetUpperBound(); math.Abs(lo-0.001) > 1e-12 || math.Abs(hi-100) > 1e-9 {
		t.Errorf("buckets from %v to %v, want 0.001 to 100", lo, hi)
	}
	for _, b := range buckets {
		var want uint64 // observations 0.004, 0.3 and 40 at or below the bound
		for _, v := range []float64{0.004, 0.3, 40} {
			if v <= b.GetUpperBound() {
				want++
			}
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}

	// The Go and process collectors are there; every resnext counter, and only counters, ends in _total.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := families[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "resnext_") {
			continue
		}
		if isCounter, total := f.GetType() == dto.MetricType_COUNTER, strings.HasSuffix(name, "_total"); isCounter != total {
			t.Errorf("%s: type %v, but its name says otherwise", name, f.GetType())
		}
	}

	// The same values through the registry.
	if got := testutil.ToFloat64(p.steps); got != 4 {
		t.Errorf("steps counter = %v, want 4", got)
	}
	if n, err := testutil.GatherAndCount(p.Registry(), "resnext_eval_top1", "resnext_epoch"); err != nil || n != 2 {
		t.Errorf("GatherAndCount = %d, %v; want 2", n, err)
	}

	resp, err := http.Get("http://" + s.Addr() + "/nothing")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /nothing: %s, want 404", resp.Status)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Error("server still answers after Close")
	}
}

func TestPromServeBadAddress(t *testing.T) {
	p := NewProm()
	taken, err := p.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{"", "9090", "localhost", "127.0.0.1:notaport", "127.0.0.1:99999", taken.Addr()} {
		s, err := p.Serve(addr)
		if err == nil {
			s.Close()
			t.Errorf("Serve(%q) succeeded", addr)
			continue
		}
		if !strings.Contains(err.Error(), "--metrics_addr") || !strings.Contains(err.Error(), `"`+addr+`"`) {
			t.Errorf("Serve(%q): error %q does not name --metrics_addr and the address", addr, err)
		}
	}
}

func TestPromNil(t *testing.T) {
	var p *Prom
	// None of these may panic.
	p.Step(1, 0.1, 1024, 32, 0.1, 0.01)
	p.ImagesPerSecond(1)
	p.Epoch(1)
	p.Eval(0.5, 0.9, 1)
	p.Skipped(1)
	p.Overflow()
	if p.Registry() != nil {
		t.Error("nil Prom has a registry")
	}
	if _, err := p.Serve("127.0.0.1:0"); err == nil {
		t.Error("nil Prom serves")
	}
}
