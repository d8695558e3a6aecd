package lr

import (
	"math"
	"strings"
	"testing"
)

// TestBuild checks each scheduler at chosen steps against values worked out by hand from MindCV's
// definitions (the comments give the arithmetic), and the length of the list.
func TestBuild(t *testing.T) {
	sqrt2 := math.Sqrt(2)
	// cosine over D epochs from 1 to 0 at epoch e: 0.5*(1+cos(pi*e/D)).
	cosAt := func(e, d float64) float64 { return 0.5 * (1 + math.Cos(math.Pi*e/d)) }
	tests := []struct {
		name string
		s    Schedule
		spe  int
		len  int
		at   map[int]float64 // step -> learning rate
	}{
		{
			name: "cosine with warmup",
			s: Schedule{Scheduler: "cosine_decay", LR: 1, WarmupEpochs: 2, WarmupFactor: 0.1, DecayEpochs: 4,
				NumEpochs: 8, NumCycles: 1, CycleDecay: 1},
			spe: 2, len: 16,
			at: map[int]float64{
				0:  0.1,             // warmup starts at lr*warmup_factor
				1:  0.1 + 0.25*0.9,  // a quarter of the way (half an epoch of two)
				3:  0.1 + 0.75*0.9,  // three quarters
				4:  1,               // the cosine starts at lr where the warmup ends
				6:  0.5 + sqrt2/4,   // one epoch into the cosine: 0.5*(1+cos(pi/4))
				8:  0.5,             // two epochs: 0.5*(1+cos(pi/2))
				11: cosAt(3.5, 4),   // 3.5 epochs
				12: 0, 13: 0, 15: 0, // padded with min_lr after decay_epochs
			},
		},
		{
			name: "cosine with warmup, lr_epoch_stair",
			s: Schedule{Scheduler: "cosine_decay", LR: 1, WarmupEpochs: 2, WarmupFactor: 0.1, DecayEpochs: 4,
				NumEpochs: 8, NumCycles: 1, CycleDecay: 1, LREpochStair: true},
			spe: 2, len: 16,
			at: map[int]float64{0: 0.1, 1: 0.1, 2: 0.55, 3: 0.55, 4: 1, 5: 1, 6: 0.5 + sqrt2/4, 7: 0.5 + sqrt2/4, 8: 0.5, 12: 0},
		},
		{
			name: "MINDCV.md recipe: cosine_decay lr 0.1, min_lr 0, 150 epochs",
			s:    Schedule{Scheduler: "cosine_decay", LR: 0.1, DecayEpochs: 150, NumEpochs: 150, NumCycles: 1, CycleDecay: 1},
			spe:  10, len: 1500,
			at: map[int]float64{
				0:    0.1,
				5:    0.05 * (1 + math.Cos(math.Pi*0.5/150)),
				750:  0.05, // half way: cos(pi/2) = 0
				1000: 0.05 * (1 + math.Cos(math.Pi*100/150)),
				1499: 0.05 * (1 + math.Cos(math.Pi*149.9/150)),
			},
		},
		{
			name: "cosine min_lr",
			s:    Schedule{Scheduler: "warmup_cosine_decay", LR: 1, MinLR: 0.2, DecayEpochs: 2, NumEpochs: 4, NumCycles: 1, CycleDecay: 1},
			spe:  1, len: 4,
			at: map[int]float64{0: 1, 1: 0.6, 2: 0.2, 3: 0.2}, // 0.2 + 0.4*(1+cos(pi/2)), then min_lr
		},
		{
			name: "cosine cycles",
			s:    Schedule{Scheduler: "cosine_decay", LR: 1, DecayEpochs: 2, NumEpochs: 5, NumCycles: 2, CycleDecay: 0.5},
			spe:  1, len: 5,
			at: map[int]float64{0: 1, 1: 0.5, 2: 0.5, 3: 0.25, 4: 0}, // second cycle peaks at lr*0.5
		},
		{
			name: "cosine longer than the run is cut",
			s:    Schedule{Scheduler: "cosine_decay", LR: 1, DecayEpochs: 4, NumEpochs: 2, NumCycles: 1, CycleDecay: 1},
			spe:  1, len: 2,
			at: map[int]float64{1: 0.5 + sqrt2/4},
		},
		{
			name: "constant with warmup",
			s:    Schedule{Scheduler: "constant", LR: 0.4, WarmupEpochs: 1, WarmupFactor: 0.5, NumEpochs: 3},
			spe:  2, len: 6,
			at: map[int]float64{0: 0.2, 1: 0.3, 2: 0.4, 5: 0.4},
		},
		{
			name: "step_decay",
			s:    Schedule{Scheduler: "step_decay", LR: 1, DecayEpochs: 2, DecayRate: 0.5, NumEpochs: 5},
			spe:  2, len: 10,
			at: map[int]float64{0: 1, 3: 1, 4: 0.5, 7: 0.5, 8: 0.25, 9: 0.25},
		},
		{
			name: "step_decay after warmup counts epochs from the warmup's end",
			s:    Schedule{Scheduler: "step_decay", LR: 1, WarmupEpochs: 1, DecayEpochs: 1, DecayRate: 0.5, NumEpochs: 3},
			spe:  1, len: 3,
			at: map[int]float64{0: 0, 1: 1, 2: 0.5},
		},
		{
			name: "multi_step_decay, milestones in any order",
			s:    Schedule{Scheduler: "multi_step_decay", LR: 1, DecayRate: 0.1, Milestones: []int{3, 1}, NumEpochs: 5},
			spe:  1, len: 5,
			at: map[int]float64{0: 1, 1: 0.1, 2: 0.1, 3: 0.1 * 0.1, 4: 0.1 * 0.1},
		},
		{
			name: "exponential_decay",
			s:    Schedule{Scheduler: "exponential_decay", LR: 1, DecayRate: 0.25, NumEpochs: 2},
			spe:  2, len: 4,
			at: map[int]float64{0: 1, 1: 0.5, 2: 0.25, 3: 0.125}, // 0.25^(i/2)
		},
		{
			name: "exponential_decay, lr_epoch_stair",
			s:    Schedule{Scheduler: "exponential_decay", LR: 1, DecayRate: 0.25, NumEpochs: 2, LREpochStair: true},
			spe:  2, len: 4,
			at: map[int]float64{0: 1, 1: 1, 2: 0.25, 3: 0.25},
		},
		{
			name: "polynomial_decay",
			s:    Schedule{Scheduler: "polynomial_decay", LR: 1, DecayRate: 2, NumEpochs: 2},
			spe:  2, len: 4,
			at: map[int]float64{0: 1, 1: 0.5625, 2: 0.25, 3: 0.0625}, // (1 - e/2)^2
		},
		{
			name: "polynomial_decay, lr_epoch_stair",
			s:    Schedule{Scheduler: "polynomial_decay", LR: 1, DecayRate: 2, NumEpochs: 2, LREpochStair: true},
			spe:  2, len: 4,
			at: map[int]float64{0: 1, 1: 1, 2: 0.25, 3: 0.25},
		},
		{
			name: "one_cycle",
			s:    Schedule{Scheduler: "one_cycle", LR: 2.5, MinLR: 1e-5, NumEpochs: 15},
			spe:  2, len: 30,
			at: map[int]float64{
				0:  0.1,                     // lr/25
				4:  2.5 - 2.4/2,             // half way up (the rise ends at step 0.3*30-1 = 8)
				8:  2.5,                     // the peak
				29: 1e-5,                    // min_lr at the last step
				15: 1e-5 + (2.5-1e-5)/2*1.5, // (15-8)/(29-8) = 1/3 of the way down: cos(pi/3)+1 = 1.5
			},
		},
		{
			name: "cyclic",
			s:    Schedule{Scheduler: "cyclic", LR: 2.5, MinLR: 0.1, NumEpochs: 15, NumCycles: 3},
			spe:  2, len: 30,
			at: map[int]float64{ // half cycle int(30/3/2) = 5 steps
				0: 0.1, 2: 0.1 + 2.4*0.4, 5: 2.5, 7: 0.1 + 2.4*0.6, 10: 0.1, 15: 2.5, 29: 0.1 + 2.4*0.2,
			},
		},
		{
			name: "a warmup longer than the run is kept whole",
			s:    Schedule{Scheduler: "cosine_decay", LR: 1, WarmupEpochs: 4, DecayEpochs: 1, NumEpochs: 2, NumCycles: 1, CycleDecay: 1},
			spe:  1, len: 4,
			at: map[int]float64{0: 0, 1: 0.25, 3: 0.75},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Build(tt.s, tt.spe)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.len {
				t.Fatalf("%d steps, want %d", len(got), tt.len)
			}
			for step, want := range tt.at {
				if math.Abs(got[step]-want) > 1e-12*(1+math.Abs(want)) {
					t.Errorf("step %d: lr %.17g, want %.17g", step, got[step], want)
				}
			}
		})
	}
}

// TestBuildErrors checks that each invalid setting is refused with an error naming its key.
func TestBuildErrors(t *testing.T) {
	ok := Schedule{Scheduler: "cosine_decay", LR: 0.1, DecayEpochs: 10, NumEpochs: 10, NumCycles: 1, CycleDecay: 1}
	tests := []struct {
		name string
		edit func(*Schedule)
		spe  int
		want []string // substrings of the error
	}{
		{"unknown scheduler", func(s *Schedule) { s.Scheduler = "cosine" }, 5, []string{`scheduler "cosine"`, "cosine_decay", "multi_step_decay", "cyclic"}},
		{"no steps", func(*Schedule) {}, 0, []string{"steps per epoch", "batch_size"}},
		{"no epochs", func(s *Schedule) { s.NumEpochs = 0 }, 5, []string{"epoch_size"}},
		{"negative lr", func(s *Schedule) { s.LR = -1 }, 5, []string{"lr -1"}},
		{"NaN min_lr", func(s *Schedule) { s.MinLR = math.NaN() }, 5, []string{"min_lr"}},
		{"negative warmup", func(s *Schedule) { s.WarmupEpochs = -1 }, 5, []string{"warmup_epochs"}},
		{"no cosine cycles", func(s *Schedule) { s.NumCycles = 0 }, 5, []string{"num_cycles"}},
		{"step_decay period 0", func(s *Schedule) { s.Scheduler, s.DecayEpochs = "step_decay", 0 }, 5, []string{"decay_epochs"}},
		{"exponential rate < 0", func(s *Schedule) { s.Scheduler, s.DecayRate = "exponential_decay", -0.5 }, 5, []string{"decay_rate"}},
		{"negative milestone", func(s *Schedule) { s.Scheduler, s.Milestones = "multi_step_decay", []int{-1} }, 5, []string{"multi_step_decay_milestones"}},
		{"one_cycle min_lr 0", func(s *Schedule) { s.Scheduler = "one_cycle" }, 5, []string{"min_lr"}},
		{"one_cycle with warmup", func(s *Schedule) { s.Scheduler, s.MinLR, s.WarmupEpochs = "one_cycle", 1e-5, 1 }, 5, []string{"warmup_epochs", "lr_epoch_stair"}},
		{"cyclic with stair", func(s *Schedule) { s.Scheduler, s.LREpochStair = "cyclic", true }, 5, []string{"lr_epoch_stair"}},
		{"cyclic too short", func(s *Schedule) { s.Scheduler, s.NumCycles = "cyclic", 30 }, 5, []string{"num_cycles 30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			_, err := Build(s, tt.spe)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Build(ok, 5); err != nil {
		t.Errorf("the valid schedule was refused: %v", err)
	}
}
