// Package admissionload measures mlscale's admission webhooks under load
// against a floor: an allow-all webhook served with the same TLS setup,
// driven with the same AdmissionReview by the same keep-alive HTTPS
// clients, in alternating rounds, so that every ratio comes from one run
// on one machine. `make bench-admission` (hack/benchadmission) runs it
// against the local control plane; docs/performance.md has the figures.
package admissionload

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Result is what one server answered during one or more rounds.
type Result struct {
	// Name names the server (or the path) that was driven.
	Name string
	// Reviews counts the answers that allowed the object.
	Reviews int
	// Errors counts the requests that failed: transport errors, a status
	// other than 200, or an answer that did not allow the object.
	Errors int
	// FirstError is the first error seen, for the report.
	FirstError string
	// Elapsed is the time the clients ran.
	Elapsed time.Duration
	// Latencies are the durations of the answered reviews, in any order.
	Latencies []time.Duration
}

// PerSecond is the reviews answered per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Reviews) / r.Elapsed.Seconds()
}

// Merge adds the reviews, errors, time and latencies of o to r (rounds of
// the same server).
func (r Result) Merge(o Result) Result {
	r.Reviews += o.Reviews
	r.Errors += o.Errors
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	r.Elapsed += o.Elapsed
	r.Latencies = append(slices.Clip(r.Latencies), o.Latencies...)
	return r
}

// Summary is a Result reduced to the figures the report prints.
type Summary struct {
	// Name is the Result's.
	Name string
	// PerSecond is the reviews answered per second.
	PerSecond float64
	// P50 and P99 are the median and 99th percentile latencies.
	P50, P99 time.Duration
	// Reviews and Errors are the Result's counts.
	Reviews, Errors int
}

// Summarize computes r's figures.
func Summarize(r Result) Summary {
	lat := slices.Clone(r.Latencies)
	slices.Sort(lat)
	return Summary{
		Name: r.Name, PerSecond: r.PerSecond(), Reviews: r.Reviews, Errors: r.Errors,
		P50: Percentile(lat, 50), P99: Percentile(lat, 99),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted
// durations by the nearest-rank method: the smallest value that at least
// p percent of the values do not exceed. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(float64(n)*p/100 + 0.999999999)
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Goal is what a server must reach against the floor: at least
// MinThroughput times the floor's reviews per second, at most MaxP99 times
// its p99, and no errors.
type Goal struct {
	// Name is the server the goal is for.
	Name string
	// MinThroughput is the least ratio of reviews per second.
	MinThroughput float64
	// MaxP99 is the greatest ratio of p99 latencies.
	MaxP99 float64
}

// Verdict is one server measured against its goal.
type Verdict struct {
	Goal
	// Throughput and P99 are the measured ratios to the floor.
	Throughput, P99 float64
	// Errors are the server's errors.
	Errors int
}

// Met reports whether every part of the goal holds.
func (v Verdict) Met() bool {
	return v.Throughput >= v.MinThroughput && v.P99 <= v.MaxP99 && v.Errors == 0
}

// Check measures s against the floor for goal g. A floor without reviews
// gives ratios of 0 (and a p99 ratio of 0 when the floor's p99 is 0).
func Check(floor, s Summary, g Goal) Verdict {
	v := Verdict{Goal: g, Errors: s.Errors}
	if floor.PerSecond > 0 {
		v.Throughput = s.PerSecond / floor.PerSecond
	}
	if floor.P99 > 0 {
		v.P99 = float64(s.P99) / float64(floor.P99)
	}
	return v
}

// Report writes the per-round lines, the totals of each server over all
// rounds and the verdicts against the goals (ratios to floor, the
// Summary named floor.Name), and returns whether every goal was met.
func Report(w io.Writer, rounds [][]Result, floor string, goals []Goal) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tserver\treviews/s\tp50\tp99\treviews\terrors\t")
	totals := map[string]Result{}
	var order []string
	for i, round := range rounds {
		for _, r := range round {
			s := Summarize(r)
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%d\t%d\t\n", i+1, s.Name, s.PerSecond, ms(s.P50), ms(s.P99), s.Reviews, s.Errors)
			if _, ok := totals[r.Name]; !ok {
				order = append(order, r.Name)
			}
			totals[r.Name] = totals[r.Name].Merge(r)
		}
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	sums := map[string]Summary{}
	for _, name := range order {
		t := totals[name]
		t.Name = name
		s := Summarize(t)
		sums[name] = s
		fmt.Fprintf(tw, "all\t%s\t%.0f\t%s\t%s\t%d\t%d\t\n", s.Name, s.PerSecond, ms(s.P50), ms(s.P99), s.Reviews, s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	met := true
	fmt.Fprintf(w, "\nratios to %s, all rounds together:\n", floor)
	for _, g := range goals {
		s, ok := sums[g.Name]
		if !ok {
			continue
		}
		v := Check(sums[floor], s, g)
		met = met && v.Met()
		fmt.Fprintf(w, "  %-10s reviews/s x%.2f (goal >= %.2f), p99 x%.2f (goal <= %.2f), errors %d: %s\n",
			g.Name, v.Throughput, g.MinThroughput, v.P99, g.MaxP99, v.Errors, verdictWord(v.Met()))
		if first := totals[g.Name].FirstError; first != "" {
			fmt.Fprintf(w, "  %-10s first error: %s\n", "", first)
		}
	}
	return met, nil
}

func verdictWord(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// ms writes a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
