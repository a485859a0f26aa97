// Package cli is mlscale's command line: the root command `mlscale` and its
// subcommands. Flags live here and only here; each subcommand fills a typed
// config struct from its flags and hands it to the library packages.
//
// A subcommand lives in its own file with a newXCmd constructor and is listed
// in subcommands below.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes of mlscale.
const (
	// ExitOK is returned when everything succeeded.
	ExitOK = 0
	// ExitFailure is returned when the command ran and found a problem, e.g.
	// a workload whose annotations admission would deny.
	ExitFailure = 1
	// ExitUsage is returned for a bad command line: an unknown flag, a
	// missing argument, a flag value out of range.
	ExitUsage = 2
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	// In is standard input, read by `-f -`.
	In io.Reader
	// Out receives the command's result.
	Out io.Writer
	// Err receives warnings and errors.
	Err io.Writer
}

// subcommands lists the constructors of mlscale's subcommands, in the order
// `mlscale --help` shows them. Add a new subcommand here.
var subcommands = []func() *cobra.Command{
	newWebhookCmd,
	newPredictorCmd,
	newCollectorCmd,
	newRenderCmd,
	newStatusCmd,
	newBacktestCmd,
	newRecommendCmd,
	newPolicyCmd,
	newVersionCmd,
}

// NewRootCommand returns the `mlscale` command with every subcommand.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "mlscale",
		Short:         "Autoscale ML workloads on Kubernetes by annotation",
		Long:          rootHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without Run, cobra prints the help for `mlscale` alone.
	}
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	return root
}

// Run runs mlscale with the arguments (without the program name) and returns
// the process exit code. Errors are printed to s.Err.
func Run(ctx context.Context, args []string, s Streams) int {
	return Execute(ctx, NewRootCommand(), args, s)
}

// Execute runs root (mlscale's, or another binary's built the same way) with
// the arguments and returns the process exit code: ExitOK, ExitFailure for
// an error (printed to s.Err unless the command reported it already, see
// Problems), ExitUsage for a bad command line (see Usagef).
func Execute(ctx context.Context, root *cobra.Command, args []string, s Streams) int {
	plainBoolFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w%s\nRun '%s --help' for usage", err, verboseHint(err), c.CommandPath())}
	})
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var failed reportedError
	if errors.As(err, &failed) {
		return ExitFailure
	}
	printError(s.Err, "%v", err)
	var usage usageError
	if errors.As(err, &usage) || isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// verboseHint explains an unknown -v: in kubectl, -v N sets the log level,
// and mlscale has no -v at all, so that the same letter never means two
// things. Commands that say more spell it --verbose, and the in-cluster
// commands log at debug level with --debug.
func verboseHint(err error) string {
	if !strings.HasPrefix(err.Error(), "unknown shorthand flag: 'v' ") {
		return ""
	}
	return " (mlscale has no -v, which sets the log level in kubectl: use --verbose, or --debug for the in-cluster commands)"
}

// reportedError means that a command has already printed what went wrong
// and wants exit code 1 without another message.
type reportedError struct{ problems int }

func (e reportedError) Error() string {
	return fmt.Sprintf("%d problem(s), reported above", e.problems)
}

// usageError is a bad command line; it exits with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noArgsButFiles is cobra.NoArgs for a command that reads its files with
// -f: an argument, most often a file given as in `cat FILE`, is refused
// with the -f form named, instead of cobra's "unknown command".
func noArgsButFiles(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usagef("%s takes its files with -f, not as arguments: %s -f %s", cmd.CommandPath(), cmd.CommandPath(), strings.Join(args, " -f "))
}

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Usagef returns an error for a bad command line: Execute prints it and
// exits with ExitUsage.
func Usagef(format string, args ...any) error { return usagef(format, args...) }

// Problems returns an error for n problems that the command has printed
// already: Execute exits with ExitFailure without another message.
func Problems(n int) error { return reportedError{problems: n} }

// isCobraUsageError recognises the errors cobra itself returns for a bad
// command line (unknown subcommand, wrong number of arguments), which it
// does not type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// gpuBudgetFlag returns the --gpu-budget value when the flag was given, nil
// when it was not, and a usage error for a negative budget.
func gpuBudgetFlag(cmd *cobra.Command, budget int64) (*int64, error) {
	if !cmd.Flags().Changed("gpu-budget") {
		return nil, nil
	}
	if budget < 0 {
		return nil, usagef("--gpu-budget must be 0 or more, not %d", budget)
	}
	return &budget, nil
}

// boolSuffix is what pflag writes after a boolean flag's name in usage
// ("--once[=true|false]"); kubectl and most CLIs show just "--once".
const boolSuffix = "[=true|false]"

// plainBoolFlags makes the usage of root and its subcommands list boolean
// flags as "--once": the suffix is blanked, so that the columns stay
// aligned.
func plainBoolFlags(root *cobra.Command) {
	cobra.AddTemplateFunc("plainFlagUsages", func(fs *pflag.FlagSet) string {
		return strings.ReplaceAll(fs.FlagUsages(), boolSuffix, strings.Repeat(" ", len(boolSuffix)))
	})
	t := root.UsageTemplate()
	t = strings.ReplaceAll(t, ".LocalFlags.FlagUsages", "plainFlagUsages .LocalFlags")
	t = strings.ReplaceAll(t, ".InheritedFlags.FlagUsages", "plainFlagUsages .InheritedFlags")
	root.SetUsageTemplate(t)
}
