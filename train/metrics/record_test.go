package metrics

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeRun returns the records of a made-up run: epochs of stepsPerEpoch steps, a train record
// every interval steps and at each epoch's end, then an epoch and an eval record per epoch. The
// loss falls and the accuracy rises; the learning rate warms up for one epoch, then decays as a cosine.
func fakeRun(epochs, stepsPerEpoch, interval int) []Record {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	total := epochs * stepsPerEpoch
	var out []Record
	lrAt := func(step int) float64 {
		if step <= stepsPerEpoch {
			return 0.1 * float64(step) / float64(stepsPerEpoch)
		}
		return 0.05 * (1 + math.Cos(math.Pi*float64(step-stepsPerEpoch)/float64(total-stepsPerEpoch)))
	}
	lossAt := func(step int) float64 {
		return 2.3*math.Exp(-float64(step)/float64(total)*3) + 0.4 + 0.08*math.Sin(float64(step)*0.7)
	}
	for e := 1; e <= epochs; e++ {
		for s := (e-1)*stepsPerEpoch + 1; s <= e*stepsPerEpoch; s++ {
			if s%interval != 0 && s != e*stepsPerEpoch {
				continue
			}
			out = append(out, Record{
				Time: t0.Add(time.Duration(s) * time.Second), Kind: KindTrain, Epoch: e, Step: s,
				Loss: F(lossAt(s)), LR: F(lrAt(s)), LossScale: F(1024), ImgPerS: F(250 + float64(s%7)),
				StepTime: F(0.128), DataWait: F(0.002), Overflow: s%(3*interval) == 0,
			})
		}
		s := e * stepsPerEpoch
		frac := float64(e) / float64(epochs)
		out = append(out,
			Record{Time: t0.Add(time.Duration(s) * time.Second), Kind: KindEpoch, Epoch: e, Step: s,
				Loss: F(lossAt(s) + 0.05), ImgPerS: F(251), Images: stepsPerEpoch * 32},
			Record{Time: t0.Add(time.Duration(s)*time.Second + 30*time.Second), Kind: KindEval, Epoch: e, Step: s,
				Loss: F(lossAt(s) + 0.15), Top1: F(0.3 + 0.45*frac), Top5: F(0.6 + 0.33*frac), Images: 500},
		)
	}
	return out
}

func writeAll(t *testing.T, path string, records []Record) {
	t.Helper()
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameRecords compares records, times by instant (a decoded time carries a different location pointer).
func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("record %d: time %v, want %v", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	want := fakeRun(2, 20, 5)
	// Values JSON numbers cannot hold, and fields left out.
	want = append(want,
		Record{Time: time.Unix(1700000000, 5).UTC(), Kind: KindTrain, Epoch: 3, Step: 41,
			Loss: F(math.NaN()), LR: F(math.Inf(1)), LossScale: F(math.Inf(-1)), Skipped: 3},
		Record{Time: time.Unix(1700000001, 0).UTC(), Kind: KindEval, Epoch: 3, Step: 41})
	writeAll(t, path, want)

	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(want)
	last := got[n-2]
	if last.Loss == nil || !math.IsNaN(*last.Loss) {
		t.Errorf("NaN loss read back as %v", last.Loss)
	}
	// NaN != NaN: compare the rest with the NaN replaced.
	got[n-2].Loss, want[n-2].Loss = nil, nil
	sameRecords(t, got, want)

	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for _, s := range []string{`"loss":"NaN"`, `"lr":"+Inf"`, `"loss_scale":"-Inf"`, `"skipped":3`} {
		if !strings.Contains(lines[n-2], s) {
			t.Errorf("line %q lacks %s", lines[n-2], s)
		}
	}
	if want := `"kind":"eval","epoch":3,"step":41}`; !strings.HasSuffix(lines[n-1], want) {
		t.Errorf("empty fields not left out: %q, want it to end with %s", lines[n-1], want)
	}
}

func TestWriteFillsTimeAndNeedsKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := w.Write(Record{Kind: KindEpoch, Epoch: 1, Step: 10}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Epoch: 1, Step: 11}); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("record without a kind: err = %v, want one about the kind", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Write(Record{Kind: KindEpoch}); err == nil {
		t.Error("Write after Close succeeded")
	}
	got, err := Read(path)
	if err != nil || len(got) != 1 {
		t.Fatalf("Read = %d records, %v; want 1", len(got), err)
	}
	if got[0].Time.Before(before.Add(-time.Second)) || got[0].Time.After(time.Now().Add(time.Second)) {
		t.Errorf("time %v, want about %v", got[0].Time, before)
	}

	var nilWriter *Writer
	if err := nilWriter.Write(Record{Kind: KindTrain}); err != nil {
		t.Errorf("nil Writer: Write = %v", err)
	}
	if err := nilWriter.Close(); err != nil {
		t.Errorf("nil Writer: Close = %v", err)
	}
}

func TestCreateAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	run := fakeRun(2, 20, 5)
	half := len(run) / 2
	writeAll(t, path, run[:half])
	writeAll(t, path, run[half:])
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, run)
}

func TestTruncatedLastLine(t *testing.T) {
	run := fakeRun(1, 20, 5)
	cases := []struct {
		name string
		tail string // appended to the whole lines of run[:3]
		keep int    // records Read and Create keep of run[:3] + tail
	}{
		{"cut mid-object", `{"time":"2025-03-01T12:00:15Z","kind":"train","epoch":1,"st`, 3},
		{"cut in a string", `{"time":"2025-03-0`, 3},
		{"one byte", `{`, 3},
		{"whole object without newline", `{"time":"2025-03-01T12:00:15Z","kind":"train","epoch":1,"step":15}`, 4},
		{"whole line", "", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			writeAll(t, path, run[:3])
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(c.tail)
			f.Close()

			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.keep {
				t.Fatalf("Read: %d records, want %d", len(got), c.keep)
			}
			sameRecords(t, got[:3], run[:3])

			// Appending after the cut leaves a valid file: every line parses.
			writeAll(t, path, run[3:5])
			got, err = Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.keep+2 {
				t.Fatalf("after appending: %d records, want %d", len(got), c.keep+2)
			}
			sameRecords(t, got[c.keep:], run[3:5])
			data, _ := os.ReadFile(path)
			for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				if _, err := parseLine([]byte(line)); err != nil {
					t.Errorf("line %d %q: %v", i+1, line, err)
				}
			}
		})
	}
}

func TestCreateCutsLongTruncatedLine(t *testing.T) {
	// A torn last line longer than the chunk repairTail reads at a time, after whole lines.
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	run := fakeRun(1, 20, 5)
	writeAll(t, path, run[:2])
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"train","pad":"` + strings.Repeat("x", 10000))
	f.Close()
	writeAll(t, path, run[2:3])
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, run[:3])

	// A file that is one torn line and nothing else is emptied.
	path2 := filepath.Join(t.TempDir(), "torn.jsonl")
	os.WriteFile(path2, []byte(strings.Repeat("y", 9000)), 0o644)
	writeAll(t, path2, run[:1])
	data, _ := os.ReadFile(path2)
	if strings.Contains(string(data), "y") {
		t.Errorf("torn line kept: %.40q", data)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good := `{"time":"2025-03-01T12:00:00Z","kind":"train","epoch":1,"step":1,"loss":2.5}`
	cases := []struct {
		name, content string
		want          []string // in the error
	}{
		{"invalid JSON", good + "\n{oops\n" + good + "\n", []string{"line 2"}},
		{"not an object", good + "\n" + good + "\n[1,2]\n" + good + "\n", []string{"line 3"}},
		{"no kind", `{"time":"2025-03-01T12:00:00Z","level":"info","msg":"hello"}` + "\n", []string{"line 1", "kind"}},
		{"bad number", good + "\n" + `{"kind":"train","loss":"lots"}` + "\n", []string{"line 2", "lots"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".jsonl")
			os.WriteFile(path, []byte(c.content), 0o644)
			_, err := Read(path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	missing := filepath.Join(dir, "missing.jsonl")
	if _, err := Read(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want one naming %s", err, missing)
	}

	// Blank lines are skipped, an empty file has no records.
	blank := filepath.Join(dir, "blank.jsonl")
	os.WriteFile(blank, []byte("\n"+good+"\n\n  \n"+good+"\n"), 0o644)
	if got, err := Read(blank); err != nil || len(got) != 2 {
		t.Errorf("blank lines: %d records, %v; want 2", len(got), err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	if got, err := Read(empty); err != nil || len(got) != 0 {
		t.Errorf("empty file: %d records, %v; want none", len(got), err)
	}
}

func TestTruncate(t *testing.T) {
	run := fakeRun(3, 20, 5) // steps 5..60; epoch and eval records at 20, 40, 60
	cases := []struct {
		step int
		want int // records kept
	}{
		{step: 40, want: 2 * (4 + 2)},
		{step: 20, want: 4 + 2},
		{step: 22, want: 4 + 2},
		{step: 24, want: 4 + 2},
		{step: 25, want: 4 + 2 + 1},
		{step: 0, want: 0},
		{step: 1000, want: len(run)},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "metrics.jsonl")
		writeAll(t, path, run)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(`{"kind":"tr`) // a torn line goes too
		f.Close()
		if err := Truncate(path, c.step); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, run[:c.want])
		for _, r := range got {
			if r.Step > c.step {
				t.Errorf("Truncate(%d) kept a record of step %d", c.step, r.Step)
			}
		}
		// The run goes on from the kept step.
		writeAll(t, path, run[c.want:])
		if got, err = Read(path); err != nil || len(got) != len(run) {
			t.Errorf("after Truncate(%d) and appending: %d records, %v; want %d", c.step, len(got), err, len(run))
		}
	}
	if err := Truncate(filepath.Join(t.TempDir(), "none.jsonl"), 5); err != nil {
		t.Errorf("Truncate of a missing file: %v, want nil", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("garbage\n{}\n"), 0o644)
	if err := Truncate(bad, 5); err == nil {
		t.Error("Truncate of an invalid file succeeded")
	}
	if data, _ := os.ReadFile(bad); string(data) != "garbage\n{}\n" {
		t.Errorf("Truncate changed an invalid file: %q", data)
	}
}

func TestDropAfter(t *testing.T) {
	in := []Record{{Kind: KindTrain, Step: 3}, {Kind: KindTrain, Step: 7}, {Kind: KindEval, Step: 5}, {Kind: KindTrain, Step: 6}, {Kind: KindTrain, Step: 5}}
	got := DropAfter(in, 5)
	want := []Record{{Kind: KindTrain, Step: 3}, {Kind: KindEval, Step: 5}, {Kind: KindTrain, Step: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DropAfter = %+v, want %+v", got, want)
	}
	if in[1].Step != 7 {
		t.Error("DropAfter changed its input")
	}
}
