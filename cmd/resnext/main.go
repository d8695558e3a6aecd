// Command resnext trains, fine-tunes, validates and runs ResNeXt image classifiers on Ascend and CPU.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/resnext/resnext/acl"
)

func main() {
	err := newRoot().Execute()
	// The Ascend runtime, when a command initialised it, is finalised once before the process exits
	// (the commands have closed their devices by now).
	if serr := acl.Shutdown(); serr != nil && err == nil {
		err = fmt.Errorf("finalising the Ascend runtime: %w", serr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resnext:", err)
		var e exitError
		if errors.As(err, &e) {
			os.Exit(e.code)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "resnext",
		Short: "Train and run ResNeXt image classifiers (MindCV's recipe) on Ascend and CPU",
		Long: `resnext trains, fine-tunes, validates and runs ResNeXt image classifiers, reproducing
MindCV's ResNeXt recipe, on Huawei Ascend accelerators or on the CPU, from one static binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newTrainCmd(), newValidateCmd(), newFinetuneCmd(), newPredictCmd(), newConvertCmd(), newBenchCmd(),
		newPlotCmd(), newVersionCmd(), newMsrunCmd())
	return root
}
