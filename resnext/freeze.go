package resnext

import (
	"fmt"
	"strings"

	"github.com/resnext/resnext/nn"
)

// Freeze fixes the backbone for fine-tuning: the stem and every stage but the last
// trainableStages (0 to 4) of layer1..layer4 stop training. Their parameters get Trainable false
// (the optimizer leaves them alone), their batch norms stay in evaluation mode whatever
// SetTraining says (the moving statistics normalise and are not updated), and in training Forward
// runs them as inference, giving their buffers back as it goes, while Backward stops at the first
// trained layer and returns nil. The classifier always trains. Freeze(4) leaves only the stem
// frozen; calling Freeze again re-freezes from scratch.
func (m *Model) Freeze(trainableStages int) error {
	if trainableStages < 0 || trainableStages > len(m.layers) {
		return fmt.Errorf("model %s: %d trainable stages: want 0 to %d (trainable_stages)", m.cfg.Name, trainableStages, len(m.layers))
	}
	m.trainableStages = trainableStages
	m.frozen = m.frozenLayers()
	m.classifier.NoInputGrad = m.chain[m.frozen] == nn.Layer(m.classifier)
	frozenParams := map[*nn.Param]bool{}
	for _, l := range m.chain[:m.frozen] {
		for _, p := range l.Params() {
			frozenParams[p] = true
		}
	}
	for _, p := range m.params {
		p.Trainable = !frozenParams[p] && !isStatistic(p.Name)
	}
	m.SetTraining(!m.evaluating)
	return nil
}

// frozenLayers is the number of layers of the chain that Freeze's trainableStages leaves frozen:
// up to the first trained stage, or up to the classifier when no stage trains.
func (m *Model) frozenLayers() int {
	first := nn.Layer(m.classifier)
	if m.trainableStages > 0 {
		first = m.layers[len(m.layers)-m.trainableStages]
	}
	for i, l := range m.chain {
		if l == first {
			return i
		}
	}
	panic("resnext: the chain does not hold its own layers")
}

// isStatistic reports whether a parameter is a batch norm's moving statistic, never trained.
func isStatistic(name string) bool {
	return strings.HasSuffix(name, ".moving_mean") || strings.HasSuffix(name, ".moving_variance")
}
