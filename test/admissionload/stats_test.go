package admissionload

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", durations(7), 99, 7 * time.Millisecond},
		{"median of four is the second", durations(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p100 is the largest", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 is the largest", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the smallest", durations(3, 4), 0.001, 3 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%v) = %s, want %s", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestMergeAndSummarize(t *testing.T) {
	a := Result{Name: "x", Reviews: 3, Elapsed: time.Second, Latencies: durations(5, 1, 3)}
	b := Result{Reviews: 1, Errors: 2, FirstError: "boom", Elapsed: time.Second, Latencies: durations(9)}
	m := a.Merge(b)
	if m.Reviews != 4 || m.Errors != 2 || m.FirstError != "boom" || m.Elapsed != 2*time.Second || len(a.Latencies) != 3 {
		t.Fatalf("merged %+v (a now %+v)", m, a)
	}
	s := Summarize(m)
	if s.PerSecond != 2 || s.P50 != 3*time.Millisecond || s.P99 != 9*time.Millisecond {
		t.Errorf("summary %+v", s)
	}
	if (Result{}).PerSecond() != 0 {
		t.Error("no time, yet a rate")
	}
}

func TestCheck(t *testing.T) {
	floor := Summary{PerSecond: 1000, P99: 10 * time.Millisecond}
	g := Goal{Name: "mutate", MinThroughput: 0.6, MaxP99: 2}
	cases := []struct {
		name string
		s    Summary
		met  bool
	}{
		{"at both limits", Summary{PerSecond: 600, P99: 20 * time.Millisecond}, true},
		{"too slow", Summary{PerSecond: 599, P99: 5 * time.Millisecond}, false},
		{"p99 too long", Summary{PerSecond: 900, P99: 21 * time.Millisecond}, false},
		{"errors", Summary{PerSecond: 900, P99: 5 * time.Millisecond, Errors: 1}, false},
	}
	for _, tc := range cases {
		if v := Check(floor, tc.s, g); v.Met() != tc.met {
			t.Errorf("%s: %+v met=%v, want %v", tc.name, v, v.Met(), tc.met)
		}
	}
	if v := Check(Summary{}, Summary{PerSecond: 5, P99: time.Millisecond}, g); v.Throughput != 0 || v.P99 != 0 || v.Met() {
		t.Errorf("against an empty floor: %+v", v)
	}
}

func TestReport(t *testing.T) {
	round := func(floorRate, mutateRate int) []Result {
		return []Result{
			{Name: NameFloor, Reviews: floorRate, Elapsed: time.Second, Latencies: durations(1, 2)},
			{Name: NameMutate, Reviews: mutateRate, Elapsed: time.Second, Latencies: durations(2, 3)},
			{Name: NameValidate, Reviews: 100, Errors: 1, FirstError: "HTTP 500: no", Elapsed: time.Second, Latencies: durations(4, 5)},
		}
	}
	var out bytes.Buffer
	met, err := Report(&out, [][]Result{round(1000, 700), round(1000, 500)}, NameFloor, Goals)
	if err != nil {
		t.Fatal(err)
	}
	if met {
		t.Error("validate is at 0.1 with an error, yet every goal is met")
	}
	text := out.String()
	for _, want := range []string{
		"reviews/s", "p50", "p99",
		"mutate     reviews/s x0.60 (goal >= 0.60), p99 x1.50 (goal <= 2.00), errors 0: met",
		"validate   reviews/s x0.10 (goal >= 0.40), p99 x2.50 (goal <= 3.00), errors 2: NOT met",
		"first error: HTTP 500: no",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	lines := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		lines[strings.Join(strings.Fields(line), " ")]++
	}
	for _, want := range []string{
		"1 allow-all 1000 1.00 ms 2.00 ms 1000 0",
		"2 mutate 500 2.00 ms 3.00 ms 500 0",
		"all allow-all 1000 1.00 ms 2.00 ms 2000 0",
		"all mutate 600 2.00 ms 3.00 ms 1200 0",
		"all validate 100 4.00 ms 5.00 ms 200 2",
	} {
		if lines[want] != 1 {
			t.Errorf("report lacks the line %q:\n%s", want, text)
		}
	}
}

func TestAllowAll(t *testing.T) {
	body, err := Review(Deployment())
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 3900 || len(body) > 6000 {
		t.Errorf("review of %d bytes, want about 4 KB", len(body))
	}
	for _, path := range []string{AllowPath, AllowDecodePath} {
		rec := httptest.NewRecorder()
		AllowAll().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s: %v", path, rec.Code, rec.Body, err)
		}
		if r := out.Response; r == nil || !r.Allowed || r.UID == "" || out.Kind != "AdmissionReview" {
			t.Errorf("%s: answer %s", path, rec.Body)
		}
		rec = httptest.NewRecorder()
		AllowAll().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader("{")))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: garbage answered %d", path, rec.Code)
		}
	}
}

// TestDriveCountsErrors drives a server that refuses every other review.
func TestDriveCountsErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"response":{"allowed":true}}`))
	}))
	defer srv.Close()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	r := Drive(t.Context(), "x", srv.URL, []byte("{}"), cfg, 1, 300*time.Millisecond)
	if r.Reviews == 0 || r.Errors == 0 || !strings.Contains(r.FirstError, "HTTP 500") || len(r.Latencies) != r.Reviews {
		t.Errorf("result %d reviews, %d errors (%q), %d latencies", r.Reviews, r.Errors, r.FirstError, len(r.Latencies))
	}
}
