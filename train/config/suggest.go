package config

import "strings"

// renamed maps keys of older MindCV versions, and common names from other trainers, to the key
// that means the same here.
var renamed = map[string]string{
	"filter_bias_and_bn": "weight_decay_filter", // MindCV before 0.3
	"use_ema":            "ema",
	"loss_scaler":        "loss_scale_type",
	"dynamic_loss_scale": "loss_scale_type",
	"stepwise_lr_sched":  "lr_epoch_stair",
	"learning_rate":      "lr",
	"epochs":             "epoch_size",
	"num_epochs":         "epoch_size",
	"optimizer":          "opt",
	"lr_scheduler":       "scheduler",
	"workers":            "num_parallel_workers",
	"num_workers":        "num_parallel_workers",
	"milestones":         "multi_step_decay_milestones",
}

// suggest returns the known key closest to an unknown one, or "" when none is close: a renamed
// key, else the key at the smallest edit distance (ignoring case) if it is small for the key's
// length, else a key that contains the unknown one or is contained in it.
func suggest(unknown string) string {
	u := strings.ToLower(strings.TrimSpace(unknown))
	if r, ok := renamed[u]; ok {
		return r
	}
	t := fieldTable()
	if t.byKey[u] != nil {
		return u // a difference of case or spaces only
	}
	best, bestD := "", 1<<30
	for _, f := range t.sorted {
		if d := editDistance(u, f.key); d < bestD {
			best, bestD = f.key, d
		}
	}
	limit := len(u) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	if len(u) >= 4 {
		sub, subD := "", 1<<30
		for _, f := range t.sorted {
			if strings.Contains(f.key, u) || strings.Contains(u, f.key) && len(f.key) >= 4 {
				if d := editDistance(u, f.key); d < subD {
					sub, subD = f.key, d
				}
			}
		}
		return sub
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
