// Package opstest is the conformance suite every ops.Backend passes.
package opstest

import (
	"testing"

	"github.com/resnext/resnext/ops"
)

// Run runs the whole suite against b.
func Run(t *testing.T, b ops.Backend) {
	t.Run("fixtures", func(t *testing.T) { runFixtures(t, b) })
}
