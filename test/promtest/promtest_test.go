package promtest

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func TestWriteOpenMetrics(t *testing.T) {
	t0 := time.Unix(1_600_000_000, 500_000_000)
	var b strings.Builder
	minT, maxT, err := WriteOpenMetrics(&b, []Series{
		Regular("b_metric", nil, t0, time.Minute, []float64{1, 2.5}),
		Regular("a_metric", map[string]string{"z": `q"uo\te`, "a": "x"}, t0, time.Second, []float64{3}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# TYPE a_metric gauge
a_metric{a="x",z="q\"uo\\te"} 3 1600000000.5
# TYPE b_metric gauge
b_metric 1 1600000000.5
b_metric 2.5 1600000060.5
# EOF
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if !minT.Equal(t0) || !maxT.Equal(t0.Add(time.Minute)) {
		t.Errorf("span %s..%s, want %s..%s", minT, maxT, t0, t0.Add(time.Minute))
	}
}

func TestWriteOpenMetricsRejects(t *testing.T) {
	t0 := time.Unix(1_600_000_000, 0)
	for name, s := range map[string]Series{
		"bad name":     Regular("1x", nil, t0, time.Minute, []float64{1}),
		"bad label":    Regular("x", map[string]string{"a-b": "1"}, t0, time.Minute, []float64{1}),
		"reserved":     Regular("x", map[string]string{"__name__": "1"}, t0, time.Minute, []float64{1}),
		"out of order": {Name: "x", Samples: []Sample{{t0, 1}, {t0, 2}}},
	} {
		if _, _, err := WriteOpenMetrics(&strings.Builder{}, []Series{s}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestStartServesBackfilledData backfills two weeks at one minute, old
// enough to be far outside any default retention, reads it back through the
// HTTP API, and checks that Stop ends the process.
func TestStartServesBackfilledData(t *testing.T) {
	start := time.Date(2021, 10, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]float64, 14*24*60)
	for i := range vals {
		vals[i] = float64(i % 97)
	}
	srv := Start(t,
		Regular("demand", map[string]string{"workload": "a"}, start, time.Minute, vals),
		Regular("demand", map[string]string{"workload": "b"}, start, time.Minute, vals[:10]),
	)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from := start.Add(7 * 24 * time.Hour)
	val, _, _, err := v1.NewAPI(c).QueryRange(ctx, `demand{workload="a"}`, v1.Range{Start: from, End: from.Add(99 * time.Minute), Step: time.Minute}, v1.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("range query: %v", err)
	}
	m, ok := val.(model.Matrix)
	if !ok || len(m) != 1 {
		t.Fatalf("got %v, want one series", val)
	}
	if len(m[0].Values) != 100 {
		t.Fatalf("got %d points, want 100", len(m[0].Values))
	}
	for _, p := range m[0].Values {
		i := int(p.Timestamp.Time().Sub(start) / time.Minute)
		if float64(p.Value) != vals[i] {
			t.Fatalf("at %s got %v, want %v", p.Timestamp.Time().UTC(), p.Value, vals[i])
		}
	}
	srv.Stop()
	if !srv.Exited() {
		t.Fatal("prometheus still running after Stop")
	}
	if resp, err := http.Get(srv.URL + "/-/ready"); err == nil {
		resp.Body.Close()
		t.Fatalf("%s still answers after Stop", srv.URL)
	}
	srv.Stop() // a second Stop does nothing
}

// recorder is a testing.TB that records a Fatalf instead of failing.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Helper() {}

// TestMissingBinaryFailsNamingMakeTarget checks that a machine without
// prometheus fails the test (never skips it) and says how to install it.
func TestMissingBinaryFailsNamingMakeTarget(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(r)
	}()
	<-done
	if !strings.Contains(r.msg, "make prometheus") {
		t.Errorf("Start without prometheus on PATH: got %q, want a failure naming `make prometheus`", r.msg)
	}
}
