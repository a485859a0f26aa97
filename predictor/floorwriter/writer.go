// Package floorwriter is the loop of `mlscale predictor`: every interval, for
// each Deployment and StatefulSet with mlscale.io/predictive "true", it reads
// the workload's demand history (mlscale.io/demand-query) from a Source,
// forecasts the peak over the lookahead window with the predictor core,
// turns it into a safe replica floor (predictor.FloorPolicy: clamped, rising
// at once, falling slowly, held and then dropped to the minimum when data is
// missing), and patches mlscale.io/predicted-floor and its explanation,
// mlscale.io/prediction, on the workload. The reconciler folds the floor
// into the ScaledObject's minReplicaCount.
//
// It scores its own forecasts as their windows pass; when the rolling error
// grows past a threshold it stops raising that workload's floor (the
// workload falls back to reactive scaling) and says so in a metric, an
// Event, the log and the explanation, until the error recovers.
//
// The Writer is a controller-runtime Runnable that needs leader election, so
// that of several replicas only the leader writes. Time comes from an
// injected clock, so tests drive it deterministically.
package floorwriter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/predictor"
)

// Source reads a demand history: the query's values over [start, end] every
// step, as a regular series (promsource.Source is the Prometheus one).
type Source interface {
	Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (predictor.Series, error)
}

// Field owner and Event source of the predictor.
const (
	// FieldOwner is the field manager of the predictor's patches.
	FieldOwner = "mlscale-predictor"
	// EventSource is the reporting controller of the predictor's Events.
	EventSource = "mlscale-predictor"
)

// Event reasons, on the workload.
const (
	ReasonErrorFallback = "PredictorErrorFallback"
	ReasonResumed       = "PredictorResumed"
	ReasonNoData        = "PredictorNoData"
	ReasonBadQuery      = "PredictorBadQuery"
)

// Writer runs predictor cycles. Create it with New.
type Writer struct {
	cfg      Config
	client   client.Client
	src      Source
	now      func() time.Time
	metrics  *Metrics
	recorder events.EventRecorder
	log      logr.Logger
	cache    *predictor.Cache
	facts    facts.Func

	mu     sync.Mutex
	states map[string]*state
}

// Options are a Writer's collaborators besides the client and the source.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics receive the per-workload figures; nil means none.
	Metrics *Metrics
	// Recorder emits Events on workloads; nil means none.
	Recorder events.EventRecorder
	// Log is the logger; discarded when zero.
	Log logr.Logger
	// Facts gives each namespace's cluster facts (its GPU budget from the
	// ResourceQuotas, facts.FromCluster), as the webhook and the
	// reconciler read them; nil: Config.Facts for every namespace.
	Facts facts.Func
}

// floorWindow is the time over which the explanation and the metrics
// report the floors' achieved under-provisioning.
const floorWindow = 24 * time.Hour

// state is what the writer remembers about one workload.
type state struct {
	query   string
	floor   predictor.FloorState
	rolling Rolling
	// cal calibrates the forecasts' upper bound to the workload's target;
	// nil until the first forecast (and after a reset).
	cal *predictor.Calibrator
	// sel blends the baselines into the forecasts while they forecast
	// better than the mixture.
	sel predictor.Selector
	// lookahead is the window the forecasts that sel and cal learn from
	// are of: another window's errors say little of this one's.
	lookahead time.Duration
	// saved is the workload's mlscale.io/predictor-state as it was when
	// this state was made, restored into sel and cal once the demand query and
	// lookahead are known (then "").
	saved    string
	degraded bool
	mode     string
	seen     bool
	labels   prometheus.Labels
	// uid is the workload object's: another object of its name (deleted
	// and made again) starts from a new state.
	uid types.UID
	// invalid is the latest annotation problem reported for the
	// workload, so that it is logged once, not every cycle.
	invalid string
}

// New returns a Writer that lists and patches workloads with c and reads
// demand from src. The configuration must pass Config.Check.
func New(c client.Client, src Source, cfg Config, opts Options) *Writer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Writer{
		cfg: cfg, client: c, src: src, now: opts.Now, metrics: opts.Metrics,
		recorder: opts.Recorder, log: opts.Log, cache: predictor.NewCache(), states: map[string]*state{}, facts: opts.Facts,
	}
}

// NeedLeaderElection makes the Writer run on the elected leader only.
func (w *Writer) NeedLeaderElection() bool { return true }

// Start runs a cycle at once and then every Interval until ctx ends. A
// failed cycle is logged and the next one runs on schedule.
func (w *Writer) Start(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Cycle(ctx); err != nil && ctx.Err() == nil {
			w.log.Error(err, "predictor cycle failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Result is what one workload's cycle decided.
type Result struct {
	// Workload is "Kind namespace/name".
	Workload string
	// Explanation is the decision, as written in mlscale.io/prediction.
	Explanation Explanation
	// Patched is true when the workload was patched.
	Patched bool
	// Err is the problem that stopped the forecast, if any.
	Err error
	// Cleared is true for a workload that is not predictive (any more)
	// whose predicted floor and explanation were removed.
	Cleared bool
}

// Cycle runs one pass over every predictive workload at the clock's now and
// returns one Result per workload, in no particular order, plus one (with
// Cleared set) per workload that is not predictive but still carries a
// predicted floor, which the cycle removes. It fails only
// when the workloads cannot be listed; per-workload problems are in the
// results.
func (w *Writer) Cycle(ctx context.Context) ([]Result, error) {
	start := time.Now()
	now := w.now()
	// objs are the predictive workloads; stale are the others that still
	// carry a floor, which the reconciler would go on folding in.
	var objs, stale []client.Object
	sortOut := func(obj client.Object) {
		switch {
		case isPredictive(obj):
			objs = append(objs, obj)
		case hasFloor(obj):
			stale = append(stale, obj)
		}
	}
	// Predicted floors fold into a ScaledObject's minReplicaCount: the
	// workload kinds that KEDA scales with one.
	for _, k := range workload.Kinds {
		if k.KEDA != workload.ScaledObjectGVK {
			continue
		}
		list := k.NewList()
		if err := w.client.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", k.GVK.Kind, err)
		}
		items, err := apimeta.ExtractList(list)
		if err != nil {
			return nil, fmt.Errorf("reading the list of %ss: %w", k.GVK.Kind, err)
		}
		for _, o := range items {
			if obj, ok := o.(client.Object); ok {
				sortOut(obj)
			}
		}
	}
	results := make([]Result, len(objs), len(objs)+len(stale))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(w.cfg.Concurrency, max(1, len(objs))) {
		wg.Go(func() {
			for i := range work {
				results[i] = w.process(ctx, objs[i], now)
			}
		})
	}
	for i := range objs {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, obj := range stale {
		results = append(results, w.clear(ctx, obj))
	}
	w.forgetUnseen()
	if w.metrics != nil {
		w.metrics.cycle.Observe(time.Since(start).Seconds())
		w.metrics.workloads.Set(float64(len(objs)))
	}
	return results, nil
}

// isPredictive reports whether the workload asks for a predicted floor:
// mlscale.io/autoscale and mlscale.io/predictive set, and neither "false".
// A value that is neither "true" nor "false" is read as the reconciler
// reads it: a bad annotation, which keeps the workload's KEDA object (its
// floor folded in) as it is; the workload stays here, where its
// annotations fail to parse and its floor is left as it is too.
func isPredictive(obj client.Object) bool {
	ann := obj.GetAnnotations()
	a, on := ann[intent.KeyAutoscale]
	p, pred := ann[intent.KeyPredictive]
	return on && a != "false" && pred && p != "false"
}

// predictorKeys are the annotations the predictor writes, and those
// earlier builds of it wrote (intent.RetiredKeys), which it removes.
var predictorKeys = append([]string{intent.KeyPredictedFloor, intent.KeyPrediction, intent.KeyPredictorState}, intent.RetiredKeys...)

// removePredictorKeys returns the annotations part of a merge patch that
// removes every one of predictorKeys.
func removePredictorKeys() map[string]any {
	out := make(map[string]any, len(predictorKeys))
	for _, k := range predictorKeys {
		out[k] = nil
	}
	return out
}

// hasFloor reports whether the workload carries the predictor's annotations.
func hasFloor(obj client.Object) bool {
	ann := obj.GetAnnotations()
	for _, k := range predictorKeys {
		if _, ok := ann[k]; ok {
			return true
		}
	}
	return false
}

// clear removes the predicted floor, its explanation and the saved
// predictor state (and a retired key of an earlier build) from a workload that is no longer predictive
// (mlscale.io/predictive removed or not "true", or mlscale.io/autoscale
// off), so that the reconciler stops folding a floor
// nobody updates any more into minReplicaCount.
func (w *Writer) clear(ctx context.Context, obj client.Object) Result {
	kind := "workload"
	if wl, err := workload.FromObject(obj); err == nil {
		kind = wl.GVK.Kind
	}
	name := fmt.Sprintf("%s %s/%s", kind, obj.GetNamespace(), obj.GetName())
	res := Result{Workload: name, Cleared: true}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": removePredictorKeys()}})
	if err != nil {
		res.Err = fmt.Errorf("%s: encoding the patch: %w", name, err)
		return res
	}
	if err := w.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		if !apierrors.IsNotFound(err) {
			res.Err = fmt.Errorf("%s: removing %s, %s and %s: %w", name, intent.KeyPredictedFloor, intent.KeyPrediction, intent.KeyPredictorState, err)
			w.log.Error(err, "removing the predicted floor of a workload that is no longer predictive", "workload", name)
		}
		return res
	}
	res.Patched = true
	w.log.Info("removed the predicted floor: the workload is no longer predictive", "workload", name)
	return res
}

// forgetUnseen drops the state, model and metrics of workloads that were
// not in the latest cycle, and marks the others unseen for the next one.
func (w *Writer) forgetUnseen() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, st := range w.states {
		if !st.seen {
			delete(w.states, key)
			w.cache.Forget(key)
			if w.metrics != nil && st.labels != nil {
				w.metrics.forget(st.labels)
			}
			continue
		}
		st.seen = false
	}
}

// stateFor returns the workload's state, creating it from the annotations
// already on the workload (a new leader takes over the floor its
// predecessor wrote, and its hold, rather than starting from nothing).
func (w *Writer) stateFor(key string, obj client.Object, now time.Time) *state {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.states[key]
	if ok && st.uid != "" && obj.GetUID() != "" && st.uid != obj.GetUID() {
		// Another object of the name: the old one's rolling error,
		// calibration and floor are not its.
		w.cache.Forget(key)
		ok = false
	}
	if !ok {
		st = &state{rolling: Rolling{Window: w.cfg.ErrorWindow, FloorWindow: max(w.cfg.ErrorWindow, int(floorWindow/w.cfg.Interval))}}
		ann := obj.GetAnnotations()
		if v, err := strconv.ParseInt(ann[intent.KeyPredictedFloor], 10, 32); err == nil && v >= 0 {
			st.floor = predictor.FloorState{Floor: int32(v), Valid: true, LastGood: now}
			var prev Explanation
			if json.Unmarshal([]byte(ann[intent.KeyPrediction]), &prev) == nil {
				// What the previous process (before a restart or a leader
				// change) decided carries over: an error fallback stays on
				// until new forecasts bring the rolling error down, and a
				// workload that never had a forecast has no good one to
				// hold.
				st.mode = prev.Mode
				st.degraded = prev.Mode == ModeErrorFallback
				switch {
				case prev.LastGood == nil:
					st.floor.LastGood = time.Time{}
				case !prev.LastGood.After(now):
					st.floor.LastGood = *prev.LastGood
				}
			}
		}
		st.saved = ann[intent.KeyPredictorState]
		if st.saved == "" {
			// Written by an earlier build, under the retired key.
			st.saved = fromBaselineScores(ann[intent.KeyBaselineScores])
		}
		st.uid = obj.GetUID()
		w.states[key] = st
	}
	st.seen = true
	return st
}

// process runs one workload's cycle. Workloads are processed concurrently,
// each by one goroutine, so st needs no lock.
func (w *Writer) process(ctx context.Context, obj client.Object, now time.Time) Result {
	wl, err := workload.FromObject(obj)
	if err != nil {
		return Result{Workload: obj.GetName(), Err: err}
	}
	name := fmt.Sprintf("%s %s/%s", wl.GVK.Kind, wl.Namespace, wl.Name)
	key := wl.GVK.Kind + "/" + wl.Namespace + "/" + wl.Name
	labels := prometheus.Labels{"namespace": wl.Namespace, "kind": wl.GVK.Kind, "workload": wl.Name}
	log := w.log.WithValues("workload", name)
	// The API server's warnings on this workload's requests (the
	// client's warning handler logs through the context's logger) name
	// it.
	ctx = logr.NewContext(ctx, log)
	res := Result{Workload: name}

	st := w.stateFor(key, obj, now)
	st.labels = labels
	in, minR, maxR, err := w.inputs(ctx, wl)
	if errors.Is(err, errFacts) {
		// Not the workload's fault: the floor already there stays, and
		// the next cycle tries again. A stop cuts the read short.
		if ctx.Err() == nil {
			w.failed(labels, "facts")
			log.Error(err, "cluster facts unavailable; no floor written this cycle")
		}
		res.Err = fmt.Errorf("%s: %w", name, err)
		return res
	}
	if err != nil {
		// Its annotations are bad (a predictor input missing or invalid,
		// or anything the renderer refuses): no floor is made and the one
		// already there, if any, is left as it is. The reconciler reports
		// the same problem as a RenderFailed Event; the log says it once.
		w.failed(labels, "render")
		if msg := err.Error(); msg != st.invalid {
			st.invalid = msg
			log.Info("skipping predictive workload: its annotations are invalid; no floor is written until they are fixed", "error", msg)
		}
		res.Err = fmt.Errorf("%s: %w", name, err)
		return res
	}
	if st.invalid != "" {
		st.invalid = ""
		log.Info("predictive workload's annotations are valid again")
	}
	opts := predictor.Options{Lookahead: ptr.Deref(in.Lookahead, w.cfg.Lookahead), TargetUnder: ptr.Deref(in.TargetUnder, w.cfg.TargetUnder), BusinessHours: in.BusinessHours}
	w.follow(key, st, in.DemandQuery, opts.Lookahead)
	w.restore(st, in.DemandQuery, opts, log)
	capacity := *in.CapacityPerReplica
	fc, model, ferr := w.forecast(ctx, key, in.DemandQuery, opts, st, now, labels)
	if ctx.Err() != nil {
		// Stopping (a signal, a lost lease): a query cut short is not
		// missing data, and nothing is decided, announced or written.
		res.Err = fmt.Errorf("%s: %w", name, ctx.Err())
		return res
	}
	if ferr != nil {
		res.Err = fmt.Errorf("%s: %w", name, ferr)
	}
	ex := w.decideAndExplain(st, now, opts, capacity, fc, model, ferr, w.cfg.workloadPolicy(in, minR, maxR))
	if ferr == nil {
		// The floor's misses count only when the forecast set it.
		floorCap := math.NaN()
		if ex.Mode == ModePredicting {
			floorCap = float64(ex.Floor) * capacity
		}
		st.rolling.AddForecast(fc, opts.Lookahead, floorCap)
	}
	w.announce(obj, st.mode, ex, ferr, log)
	st.mode = ex.Mode
	res.Explanation = ex
	wape, n := st.rolling.Error()
	w.observe(labels, ex, fc, ferr == nil, wape, n)

	// Encoded only for a patch: most cycles write nothing.
	saved := func() string {
		s, err := encodeState(&st.sel, st.cal, &st.rolling, in.DemandQuery, opts.Lookahead)
		if err != nil {
			// Not written: a restart starts from the mixture alone and
			// the fit's errors.
			log.Error(err, "what the predictor learned is not kept")
		}
		return s
	}
	patched, err := w.write(ctx, obj, ex, saved, now)
	res.Patched = patched
	if err != nil {
		// A stop that cuts the patch short is not a failure to count.
		if ctx.Err() == nil {
			w.failed(labels, "patch")
			log.Error(err, "writing the predicted floor")
		}
		res.Err = errors.Join(res.Err, fmt.Errorf("%s: %w", name, err))
	}
	return res
}

// inputs parses the workload's annotations and resolves its min and max
// replicas. The floor is the predictor's own: one edited by hand into
// something invalid is overwritten, not a reason to stop writing it.
func (w *Writer) inputs(ctx context.Context, wl workload.Workload) (in intent.Intent, minR, maxR int32, err error) {
	in, _, err = intent.ParseWith(withoutFloor(wl.Annotations), intent.Options{AllowUnknownKeys: w.cfg.Facts.AllowUnknownKeys})
	if err == nil && !in.Enabled {
		err = render.ErrNotEnabled
	}
	if err == nil {
		minR, maxR, err = w.bounds(ctx, wl)
	}
	return in, minR, maxR, err
}

// decideAndExplain runs the pure decision step on the forecast (ferr is why
// there is none) under the workload's floor policy, updates the workload's
// state with it and returns the explanation written beside the floor.
func (w *Writer) decideAndExplain(st *state, now time.Time, opts predictor.Options, capacity float64, fc predictor.Forecast, model *predictor.Model, ferr error, policy predictor.FloorPolicy) Explanation {
	ex := Explanation{Time: now.UTC(), Lookahead: opts.Lookahead.String(), CapacityPerReplica: round(capacity)}
	ok := ferr == nil
	if ok {
		ex.Model, ex.Cycle = describeModel(model)
		ex.ForecastPeak, ex.ForecastUpper, ex.Spike, ex.FarRun = ptr.To(round(fc.Peak)), ptr.To(round(fc.Upper)), fc.Spike, fc.FarRun
		ex.Margin = marginOf(st.cal)
		if fc.BaselineShare > 0 {
			ex.BaselineShare = ptr.To(round(fc.BaselineShare))
		}
		if fc.RecentPeak > 0 {
			ex.RecentPeak = ptr.To(round(fc.RecentPeak))
		}
	} else {
		ex.Error = ferr.Error()
	}
	wape, n := st.rolling.Error()
	ex.Evaluated = n
	if n > 0 {
		ex.RollingError = ptr.To(round(wape))
	}
	ex.TargetUnder = intent.FormatTargetUnder(opts.TargetUnder)
	if under, over, fn := st.rolling.Provisioning(); fn > 0 {
		ex.AchievedUnder, ex.EvaluatedFloors = ptr.To(round(under)), fn
		if over != nil {
			ex.FloorVsPeak = ptr.To(round(*over))
		}
	}
	ex.Confidence = confidence(fc, ok, wape, n, w.cfg.MinEvaluations)

	s := step{prev: st.floor, degraded: st.degraded, now: now, capacity: capacity, wape: wape, evaluated: n, policy: policy}
	if st.cal != nil {
		s.recentError = st.cal.RecentError()
	}
	if ok {
		s.forecast = &fc
	}
	d := w.cfg.decide(s)
	st.floor, st.degraded = d.floor, d.degraded
	ex.Floor, ex.Reason, ex.Mode = d.floor.Floor, d.reason, d.mode
	if ok {
		ex.FallBand = ptr.To(d.band)
	}
	if !d.floor.LastGood.IsZero() {
		ex.LastGood = ptr.To(d.floor.LastGood.UTC())
	}
	return ex
}

// observe sets the workload's metrics from a cycle's explanation, forecast
// (ok is false when there is none) and rolling error over n forecasts.
func (w *Writer) observe(labels prometheus.Labels, ex Explanation, fc predictor.Forecast, ok bool, wape float64, n int) {
	if w.metrics == nil {
		return
	}
	m := w.metrics
	m.floor.With(labels).Set(float64(ex.Floor))
	// A figure that this cycle has none of (no forecast, a rolling error
	// or floors reset by a new query) is removed, not left at its last
	// value.
	setOrDelete := func(g *prometheus.GaugeVec, v float64, has bool) {
		if has {
			g.With(labels).Set(v)
		} else {
			g.Delete(labels)
		}
	}
	setOrDelete(m.forecast, fc.Peak, ok)
	setOrDelete(m.upper, fc.Upper, ok)
	setOrDelete(m.rollingError, wape, n > 0)
	if t, err := intent.ParseTargetUnder(ex.TargetUnder); err == nil {
		m.targetUnder.With(labels).Set(t)
	}
	setOrDelete(m.under, ptr.Deref(ex.AchievedUnder, 0), ex.AchievedUnder != nil)
	setOrDelete(m.overRatio, ptr.Deref(ex.FloorVsPeak, 0), ex.FloorVsPeak != nil)
	m.fallback.With(with(labels, "reason", fallbackRollingError)).Set(b2f(ex.Mode == ModeErrorFallback))
	m.fallback.With(with(labels, "reason", fallbackNoData)).Set(b2f(!ok))
}

// bounds returns the workload's min and max replicas as the renderer
// resolves them, without the predicted floor.
func (w *Writer) bounds(ctx context.Context, wl workload.Workload) (minR, maxR int32, err error) {
	wl.Annotations = withoutFloor(wl.Annotations)
	f := w.cfg.Facts
	if w.facts != nil {
		// The namespace's GPU budget (its ResourceQuotas) lowers max as
		// the reconciler's render does; a floor above it would be a
		// capacity the ScaledObject never has.
		if f, err = w.facts(ctx, wl.Namespace); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", errFacts, err)
		}
	}
	r, err := render.Workload(wl, f)
	if err != nil {
		return 0, 0, err
	}
	so := r.ScaledObject()
	if so == nil {
		return 0, 0, errors.New("renders no ScaledObject")
	}
	return ptr.Deref(so.Spec.MinReplicaCount, 0), ptr.Deref(so.Spec.MaxReplicaCount, 100), nil
}

// follow forgets what st learned from forecasts that no longer apply. A
// new demand query: everything, and the cached model. A new lookahead
// (mlscale.io/lookahead or --lookahead): the selector and the calibrator,
// which start again from this window's forecasts; the rolling error, a
// verdict on the model, stays.
func (w *Writer) follow(key string, st *state, query string, lookahead time.Duration) {
	if st.query != query {
		st.query = query
		st.rolling.Reset()
		st.sel = predictor.Selector{}
		st.cal = nil
		w.cache.Forget(key)
	}
	if st.lookahead != lookahead {
		st.lookahead = lookahead
		st.sel = predictor.Selector{}
		st.cal = nil
	}
}

// restore restores st's selector and calibrator from the workload's
// mlscale.io/predictor-state, once, when st is new: a restart or a new
// leader keeps the blend and the margins its predecessor learned. A state
// of another demand query or lookahead is left (and replaced at the next
// write), and so is a calibration learned for another target; a part
// that does not parse is logged, learned again and replaced.
func (w *Writer) restore(st *state, query string, opts predictor.Options, log logr.Logger) {
	raw := st.saved
	if raw == "" {
		return
	}
	st.saved = ""
	cal, ok, err := restoreState(&st.sel, &st.rolling, raw, query, opts.Lookahead, opts.TargetUnder, w.cfg.Step)
	if cal != nil {
		st.cal = cal
	}
	switch {
	case err != nil:
		log.Info("ignoring the saved predictor state where it does not parse; that part is learned again (the blend from a day of scored forecasts, the margins from the fit's errors)", "error", err.Error())
	case ok:
		log.V(1).Info("restored the predictor state", "annotation", intent.KeyPredictorState, "calibration", cal != nil)
	}
}

// errFacts wraps a failure to read the cluster facts (the namespace's
// ResourceQuotas) in bounds: the workload's annotations are not at fault.
var errFacts = errors.New("reading the cluster facts")

// withoutFloor returns the annotations without mlscale.io/predicted-floor.
func withoutFloor(ann map[string]string) map[string]string {
	out := make(map[string]string, len(ann))
	for k, v := range ann {
		if k != intent.KeyPredictedFloor {
			out[k] = v
		}
	}
	return out
}

// errStale is data whose newest sample is too old.
var errStale = errors.New("stale data")

// forecast reads the history, scores past forecasts against it and
// forecasts the next window.
func (w *Writer) forecast(ctx context.Context, key, query string, opts predictor.Options, st *state, now time.Time, labels prometheus.Labels) (predictor.Forecast, *predictor.Model, error) {
	s, err := w.src.Range(ctx, query, now.Add(-w.cfg.History), now, w.cfg.Step)
	if err != nil && ctx.Err() != nil {
		// Stopping: the query was cut short, not failed.
		return predictor.Forecast{}, nil, fmt.Errorf("reading demand: %w", err)
	}
	if err != nil {
		if w.metrics != nil {
			// The demand now is unknown (and after a new demand query,
			// the old query's last value is not it).
			w.metrics.actual.Delete(labels)
		}
		w.failed(labels, "query")
		return predictor.Forecast{}, nil, fmt.Errorf("reading demand: %w", err)
	}
	if age := now.Sub(s.End()); age > w.cfg.MaxStaleness {
		if w.metrics != nil {
			// The newest sample is not the demand now.
			w.metrics.actual.Delete(labels)
		}
		w.failed(labels, "query")
		return predictor.Forecast{}, nil, fmt.Errorf("reading demand: %w: the newest sample is %s old (at most %s)", errStale, age.Round(time.Second), w.cfg.MaxStaleness)
	}
	if w.metrics != nil && s.Len() > 0 {
		w.metrics.actual.With(labels).Set(s.Values[s.Len()-1])
	}
	evals := st.rolling.Evaluate(s)
	m, err := w.cache.ModelWithin(key, s, opts, w.cfg.RefitEvery)
	if err != nil {
		w.failed(labels, "fit")
		return predictor.Forecast{}, nil, fmt.Errorf("fitting: %w", err)
	}
	// The window after now, where the newest sample is older than a
	// step (a target that stopped reporting minutes ago): the floor is
	// for the minutes to come.
	fc, err := m.Forecast(s.HeldTo(now))
	if err != nil {
		w.failed(labels, "fit")
		return predictor.Forecast{}, nil, err
	}
	// Forecasts made before a new lookahead are of another window.
	evals = slices.DeleteFunc(evals, func(e Evaluation) bool { return e.Lookahead != opts.Lookahead })
	for _, e := range evals {
		st.sel.Observe(e.Forecast, e.Actual)
	}
	// A new workload (or one whose forecasts do not span a day yet):
	// persistence is blended in as the model's forecasts replayed over its
	// history say, once.
	if n := st.sel.Seed(m, s); n > 0 {
		w.log.V(1).Info("replayed the model's forecasts over the history for the selector", "workload", key, "forecasts", n)
	}
	fc = st.sel.Apply(fc)
	if st.cal == nil || st.cal.Target() != opts.TargetUnder {
		// A new workload, a new leader, a new target or lookahead: start
		// from the fit's own errors until the workload's forecasts are
		// evaluated.
		if st.cal, err = predictor.NewCalibrator(opts.TargetUnder, s.Step, opts.Lookahead); err != nil {
			return predictor.Forecast{}, nil, err
		}
		st.cal.Seed(m.Residuals())
		evals = nil
	}
	for _, e := range evals {
		st.cal.ObserveAt(e.Forecast.Time, e.Actual-e.Peak, e.Peak, e.Under)
	}
	fc.Upper = st.cal.Upper(fc)
	return fc, m, nil
}

// announce emits an Event and a log line when the workload's mode changes
// from prev.
func (w *Writer) announce(obj client.Object, prev string, ex Explanation, ferr error, log logr.Logger) {
	if ex.Mode == prev {
		return
	}
	e, ok := w.cfg.announcement(prev, ex, ferr)
	switch {
	case !ok:
		log.Info("predictor mode", "mode", ex.Mode, "floor", ex.Floor)
		return
	case e.typ == corev1.EventTypeWarning:
		log.Info("predictor fallback", "mode", ex.Mode, "floor", ex.Floor, "event", e.reason, "message", e.note)
	default:
		log.Info("predictor resumed", "mode", ex.Mode, "floor", ex.Floor)
	}
	if w.recorder != nil {
		w.recorder.Eventf(obj, nil, e.typ, e.reason, "Predict", "%s", e.note)
	}
}

// write patches the floor and explanation when the floor or the mode
// changed, or the explanation is older than RefreshEvery; the saved
// predictor state, from saved (nil or "" removes it), goes with them, so
// it is never older than RefreshEvery and costs no write of its own.
func (w *Writer) write(ctx context.Context, obj client.Object, ex Explanation, saved func() string, now time.Time) (bool, error) {
	ann := obj.GetAnnotations()
	floor := strconv.Itoa(int(ex.Floor))
	var prev Explanation
	prevOK := json.Unmarshal([]byte(ann[intent.KeyPrediction]), &prev) == nil
	if ann[intent.KeyPredictedFloor] == floor && prevOK && prev.Mode == ex.Mode && now.Sub(prev.Time) < w.cfg.RefreshEvery && !now.Before(prev.Time) {
		return false, nil
	}
	b, err := json.Marshal(ex)
	if err != nil {
		return false, fmt.Errorf("encoding the explanation: %w", err)
	}
	// The uid makes the patch fail on another object of the same name:
	// one deleted and made again while the forecast ran, which is not
	// this workload and may not be predictive at all.
	annotations := removePredictorKeys()
	annotations[intent.KeyPredictedFloor] = floor
	annotations[intent.KeyPrediction] = string(b)
	if saved != nil {
		if s := saved(); s != "" {
			annotations[intent.KeyPredictorState] = s
		}
	}
	meta := map[string]any{"annotations": annotations}
	if uid := obj.GetUID(); uid != "" {
		meta["uid"] = uid
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return false, fmt.Errorf("encoding the patch: %w", err)
	}
	if err := w.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		if apierrors.IsNotFound(err) || (obj.GetUID() != "" && uidRefused(err)) {
			// Deleted, or replaced by another object of its name, since
			// it was listed: the next cycle sees what is there now.
			w.log.V(1).Info("the workload went or was replaced while its floor was made; not written", "namespace", obj.GetNamespace(), "name", obj.GetName(), "error", err.Error())
			return false, nil
		}
		return false, fmt.Errorf("patching %s and %s: %w", intent.KeyPredictedFloor, intent.KeyPrediction, err)
	}
	return true, nil
}

// uidRefused reports whether err is the API server refusing a patch
// because its metadata.uid is not the object's (422, "field is
// immutable"): another object of the name. Any other refusal (annotations
// too large, an admission policy) is a failure to write.
func uidRefused(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &st) || st.Status().Details == nil {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Field == "metadata.uid" {
			return true
		}
	}
	return false
}

func (w *Writer) failed(labels prometheus.Labels, stage string) {
	if w.metrics != nil {
		w.metrics.failures.With(with(labels, "stage", stage)).Inc()
	}
}

// with returns l plus the label k=v.
func with(l prometheus.Labels, k, v string) prometheus.Labels {
	out := prometheus.Labels{k: v}
	for lk, lv := range l {
		out[lk] = lv
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
