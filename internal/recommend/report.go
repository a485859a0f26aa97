package recommend

import (
	"encoding/json"
	"fmt"
	"io"
)

// Report is a recommendation for one workload, as `mlscale recommend -o json`
// prints it.
type Report struct {
	// Namespace and Workload name the workload.
	Namespace string `json:"namespace"`
	Workload  string `json:"workload"`
	// Window and Step describe the history read.
	Window string `json:"window"`
	Step   string `json:"step"`
	// Annotations are the suggested annotations.
	Annotations map[string]string `json:"annotations"`
	// Reasons explain them.
	Reasons []string `json:"reasons"`
	// GPU-hours over the window: held, with the suggestion, and saved (also
	// per week).
	GPUHoursObserved     float64 `json:"gpuHoursObserved"`
	GPUHoursRecommended  float64 `json:"gpuHoursRecommended"`
	GPUHoursSaved        float64 `json:"gpuHoursSaved"`
	GPUHoursSavedPerWeek float64 `json:"gpuHoursSavedPerWeek"`
}

// NewReport builds the Report of r for the workload queried by q.
func NewReport(q Query, r Recommendation) Report {
	ann := map[string]string{}
	for _, kv := range r.Annotations() {
		ann[kv[0]] = kv[1]
	}
	return Report{
		Namespace: q.Namespace, Workload: q.Workload, Window: r.Window.String(), Step: q.Step.String(),
		Annotations: ann, Reasons: r.Reasons,
		GPUHoursObserved: r.GPUHoursObserved, GPUHoursRecommended: r.GPUHoursRecommended,
		GPUHoursSaved: r.GPUHoursSaved, GPUHoursSavedPerWeek: r.GPUHoursSavedPerWeek(),
	}
}

// WriteText prints r as annotations to paste into the workload's metadata,
// the reasons and the GPU-hours.
func WriteText(w io.Writer, q Query, r Recommendation) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("Suggested annotations for %s/%s (history: %v at %v):\n\nmetadata:\n  annotations:\n", q.Namespace, q.Workload, r.Window, q.Step)
	for _, kv := range r.Annotations() {
		p("    %s: %q\n", kv[0], kv[1])
	}
	p("\nWhy:\n")
	for _, reason := range r.Reasons {
		p("  - %s\n", reason)
	}
	verb := "saved"
	saved := r.GPUHoursSaved
	if saved < 0 {
		verb, saved = "more needed", -saved
	}
	p("\nGPU-hours over the window: %.1f held, %.1f with these settings: %.1f %s (%.1f per week).\n",
		r.GPUHoursObserved, r.GPUHoursRecommended, saved, verb, abs(r.GPUHoursSavedPerWeek()))
	if err != nil {
		return fmt.Errorf("writing the recommendation: %w", err)
	}
	return nil
}

// WriteJSON prints r as an indented JSON Report.
func WriteJSON(w io.Writer, q Query, r Recommendation) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewReport(q, r)); err != nil {
		return fmt.Errorf("writing the recommendation: %w", err)
	}
	return nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
