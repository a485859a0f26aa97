package cli

import (
	"fmt"
	"io"
	"strings"
)

// Every line mlscale writes to standard error about a problem starts the way
// kubectl's do: "error: " for an error (mlscale exits non-zero), "Warning: "
// for a warning (it does not fail the command). A message that already
// names where the problem is (a file and document, a workload) keeps that
// after the prefix.
const (
	// ErrorPrefix starts every error line.
	ErrorPrefix = "error: "
	// WarningPrefix starts every warning line, as kubectl prints the
	// warnings of the API server and of admission webhooks.
	WarningPrefix = "Warning: "
)

// printError writes one error line to w.
func printError(w io.Writer, format string, args ...any) {
	writeLine(w, ErrorPrefix, fmt.Sprintf(format, args...))
}

// printWarning writes one warning line to w.
func printWarning(w io.Writer, format string, args ...any) {
	writeLine(w, WarningPrefix, fmt.Sprintf(format, args...))
}

// writeLine writes prefix and msg, ending with exactly one newline.
func writeLine(w io.Writer, prefix, msg string) {
	_, _ = io.WriteString(w, prefix+strings.TrimRight(msg, "\n")+"\n")
}
