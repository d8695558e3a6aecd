// Package metrics records a training run's progress three ways: a JSON-lines file in the run's
// ckpt_save_dir (metrics.jsonl, one Record a line, kept across resumed runs), Prometheus metrics
// served on --metrics_addr (Prom), and a PNG of the loss, learning rate and accuracy curves drawn
// from the file (Plot, `resnext plot`).
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/resnext/resnext/internal/atomicfile"
)

// The kinds of Record.
const (
	// KindTrain is a training interval: every log_interval steps, and the last step of an epoch.
	KindTrain = "train"
	// KindEval is a validation pass.
	KindEval = "eval"
	// KindEpoch is the end of an epoch: its mean loss, time and throughput.
	KindEpoch = "epoch"
)

// Record is one line of the JSON-lines metrics file a training run writes in ckpt_save_dir (metrics.jsonl).
// Kind "train": a training interval (every log_interval steps, and the last step of an epoch);
// Kind "eval": a validation pass; Kind "epoch": the end of an epoch (its mean loss, time, throughput).
//
// Values that are not finite (a diverged loss) are written as the JSON strings "NaN", "+Inf" and
// "-Inf", which JSON numbers cannot express, and read back as such.
type Record struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Epoch     int       `json:"epoch"`                 // 1-based
	Step      int       `json:"step"`                  // global step (optimizer updates done so far)
	Loss      *float64  `json:"loss,omitempty"`        // mean loss over the interval / epoch / eval set
	LR        *float64  `json:"lr,omitempty"`          // learning rate
	LossScale *float64  `json:"loss_scale,omitempty"`  // loss scale
	ImgPerS   *float64  `json:"img_per_s,omitempty"`   // images per second
	StepTime  *float64  `json:"step_time_s,omitempty"` // mean seconds per step over the interval
	DataWait  *float64  `json:"data_wait_s,omitempty"` // seconds the step waited for data over the interval
	Top1      *float64  `json:"top1,omitempty"`        // fraction in [0,1]
	Top5      *float64  `json:"top5,omitempty"`        // fraction in [0,1]
	Images    int       `json:"images,omitempty"`      // images in the eval pass / epoch
	Skipped   int       `json:"skipped,omitempty"`     // unreadable images skipped so far
	Overflow  bool      `json:"overflow,omitempty"`    // a step in the interval was skipped for overflow
}

// F returns a pointer to v, for Record's optional fields.
func F(v float64) *float64 { return &v }

// jsonFloat is a float64 that JSON carries as a number when finite and as a string otherwise.
type jsonFloat float64

// MarshalJSON writes finite values as JSON numbers and NaN, +Inf and -Inf as strings.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a JSON number, or a string holding one (NaN, +Inf and -Inf included).
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		*f = jsonFloat(v)
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// recordJSON is Record as it is encoded: the same fields, with floats that survive non-finite values.
type recordJSON struct {
	Time      time.Time  `json:"time"`
	Kind      string     `json:"kind"`
	Epoch     int        `json:"epoch"`
	Step      int        `json:"step"`
	Loss      *jsonFloat `json:"loss,omitempty"`
	LR        *jsonFloat `json:"lr,omitempty"`
	LossScale *jsonFloat `json:"loss_scale,omitempty"`
	ImgPerS   *jsonFloat `json:"img_per_s,omitempty"`
	StepTime  *jsonFloat `json:"step_time_s,omitempty"`
	DataWait  *jsonFloat `json:"data_wait_s,omitempty"`
	Top1      *jsonFloat `json:"top1,omitempty"`
	Top5      *jsonFloat `json:"top5,omitempty"`
	Images    int        `json:"images,omitempty"`
	Skipped   int        `json:"skipped,omitempty"`
	Overflow  bool       `json:"overflow,omitempty"`
}

// MarshalJSON encodes r as one JSON object with the field names of the metrics file.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		Time: r.Time, Kind: r.Kind, Epoch: r.Epoch, Step: r.Step,
		Loss: (*jsonFloat)(r.Loss), LR: (*jsonFloat)(r.LR), LossScale: (*jsonFloat)(r.LossScale),
		ImgPerS: (*jsonFloat)(r.ImgPerS), StepTime: (*jsonFloat)(r.StepTime), DataWait: (*jsonFloat)(r.DataWait),
		Top1: (*jsonFloat)(r.Top1), Top5: (*jsonFloat)(r.Top5),
		Images: r.Images, Skipped: r.Skipped, Overflow: r.Overflow,
	})
}

// UnmarshalJSON decodes one JSON object of the metrics file into r. Unknown fields are ignored.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Record{
		Time: j.Time, Kind: j.Kind, Epoch: j.Epoch, Step: j.Step,
		Loss: (*float64)(j.Loss), LR: (*float64)(j.LR), LossScale: (*float64)(j.LossScale),
		ImgPerS: (*float64)(j.ImgPerS), StepTime: (*float64)(j.StepTime), DataWait: (*float64)(j.DataWait),
		Top1: (*float64)(j.Top1), Top5: (*float64)(j.Top5),
		Images: j.Images, Skipped: j.Skipped, Overflow: j.Overflow,
	}
	return nil
}

// parseLine decodes one line of a metrics file; a record must say its kind.
func parseLine(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, err
	}
	if r.Kind == "" {
		return Record{}, errors.New(`no "kind" field`)
	}
	return r, nil
}

// Writer appends records, one JSON object per line, and flushes each line to the file (fsync not needed per line).
// Opening an existing file appends (a resumed run continues the same file); a truncated last line left by a killed
// process is cut off before appending so the file stays valid JSON lines.
//
// A Writer is safe for concurrent use. A nil *Writer ignores every call, for processes that keep no metrics file.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// Create opens the metrics file at path for appending, creating it if it does not exist. A last line
// without its newline is kept (and ended) when it holds a whole record, and cut off otherwise.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening metrics file: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	return &Writer{f: f, path: path}, nil
}

// repairTail makes f end with a newline: a last line without one is ended when it holds a record
// and cut off otherwise.
func repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	// Find the start of the last line, reading backwards in chunks.
	const chunk = 4096
	buf := make([]byte, chunk)
	end := size
	start := int64(0) // offset just past the last newline
	first := true
	for end > 0 {
		off := max(end-chunk, 0)
		b := buf[:end-off]
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return fmt.Errorf("reading its end: %w", err)
		}
		if first {
			if b[len(b)-1] == '\n' {
				return nil // already ends with a whole line
			}
			first = false
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			start = off + int64(i) + 1
			break
		}
		end = off
	}
	tail := make([]byte, size-start)
	if _, err := f.ReadAt(tail, start); err != nil && err != io.EOF {
		return fmt.Errorf("reading its last line: %w", err)
	}
	if _, err := parseLine(tail); err == nil {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("ending its last line: %w", err)
		}
		return nil
	}
	if err := f.Truncate(start); err != nil {
		return fmt.Errorf("cutting off its truncated last line: %w", err)
	}
	return nil
}

// Write appends r as one line. A zero r.Time is set to the current time; r.Kind must not be empty.
func (w *Writer) Write(r Record) error {
	if w == nil {
		return nil
	}
	if r.Kind == "" {
		return errors.New("metrics record without a kind (want train, eval or epoch)")
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding a %s record for %s: %w", r.Kind, w.path, err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("writing metrics file %s: %w", w.path, os.ErrClosed)
	}
	if _, err := w.f.Write(line); err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	return nil
}

// Close syncs and closes the file. Closing twice is not an error.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	serr := f.Sync()
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing metrics file: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("syncing metrics file: %w", serr)
	}
	return nil
}

// Read returns the records of a metrics file, ignoring a truncated last line; an invalid line elsewhere is an error
// naming the file and line number. Blank lines are skipped. A file with no records gives an empty slice.
func Read(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading metrics file: %w", err)
	}
	var out []Record
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := parseLine(line)
		if err != nil {
			if !complete {
				break // the last line of a file cut off in the middle of a write
			}
			return nil, fmt.Errorf("metrics file %s, line %d: not a metrics record (%v); fix or delete the line", path, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// DropAfter returns the records with Step <= step, in their order, in a new slice.
func DropAfter(records []Record, step int) []Record {
	out := make([]Record, 0, len(records))
	for _, r := range records {
		if r.Step <= step {
			out = append(out, r)
		}
	}
	return out
}

// Truncate rewrites the metrics file at path atomically, keeping the records with Step <= step, so that a run
// resumed from the checkpoint of that step continues the curve without doubling back. A truncated last line is
// dropped. A file that does not exist is left so (nil error). Call it before Create opens the file.
func Truncate(path string, step int) error {
	records, err := Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	kept := DropAfter(records, step)
	return atomicfile.Write(path, func(w io.Writer) error {
		for _, r := range kept {
			line, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encoding a %s record for %s: %w", r.Kind, path, err)
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
		}
		return nil
	})
}
