// Package querycheck checks, on the elected leader, that the Prometheus
// triggers of mlscale's KEDA objects read series that exist. KEDA reads a
// missing series as 0 (ignoreNullValues), so a trigger on a series nobody
// records (the GPU trigger without mlscale's collector and rules, a typo in a
// metric name) scales on nothing, silently. The checker makes it loud: a
// TriggerQueryEmpty Warning Event on the workload, the workload's
// mlscale.io/trigger-status annotation, and the mlscale_trigger_query_series
// metric.
//
// The check must not become a request-forgery path of its own: it queries
// only the cluster's default Prometheus server and servers whose host the
// policy configuration's allowedEndpoints admit, with a short timeout and a
// bounded response, and without credentials (a trigger that reaches its
// server through a TriggerAuthentication is not checked: mlscale does not
// read Secrets).
package querycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// The checker patches the status annotation on the workloads it checks and
// records Events; `make manifests` merges these markers into
// config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// ReasonQueryEmpty is the reason of the Warning Event on a workload whose
// trigger reads no series.
const ReasonQueryEmpty = "TriggerQueryEmpty"

// FieldOwner is the field manager of the checker's patches.
const FieldOwner = "mlscale-trigger-check"

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Minute
	DefaultTimeout  = 5 * time.Second
	DefaultMaxBytes = 1 << 20
)

// Statuses of one trigger, as the annotation and the metric report them.
const (
	StatusOK      = "ok"
	StatusEmpty   = "empty"
	StatusError   = "error"
	StatusSkipped = "skipped"
)

// Options configure a Checker. Start from DefaultOptions.
type Options struct {
	// Interval is how often every trigger is checked again; a trigger is
	// also checked when the reconciler renders it.
	Interval time.Duration
	// Timeout bounds one query; MaxBytes the response read.
	Timeout  time.Duration
	MaxBytes int64
	// DefaultServer is the cluster's default Prometheus server, always
	// checked.
	DefaultServer string
	// Allowed reports whether a server's host may be queried besides the
	// default server (the policy configuration's allowedEndpoints).
	Allowed func(host string) bool
	// Transport carries the queries; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultOptions returns the options `mlscale webhook` starts from.
func DefaultOptions() Options {
	return Options{Interval: DefaultInterval, Timeout: DefaultTimeout, MaxBytes: DefaultMaxBytes}
}

// Checker checks triggers. It is a leader-elected runnable that checks
// every managed KEDA object each Interval; Observe checks one at once.
type Checker struct {
	opts     Options
	reader   client.Reader
	writer   client.Client
	recorder events.EventRecorder
	metrics  *Metrics
	log      logr.Logger

	// queue holds the objects Observe handed over, checked by Start's
	// worker.
	queue chan client.Object

	mu sync.Mutex
	// checked remembers, per workload (by uid), the fingerprint of its
	// checked triggers, when, and the statuses last reported, so that
	// Observe does not query twice for the same triggers within Interval.
	checked map[types.UID]checkedEntry
}

type checkedEntry struct {
	fingerprint string
	at          time.Time
	status      map[string]string
}

// New returns a Checker that lists KEDA objects with reader (the cache),
// patches workloads with writer and records Events with recorder.
func New(reader client.Reader, writer client.Client, recorder events.EventRecorder, metrics *Metrics, log logr.Logger, o Options) *Checker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	return &Checker{opts: o, reader: reader, writer: writer, recorder: recorder, metrics: metrics, log: log,
		queue: make(chan client.Object, 256), checked: map[types.UID]checkedEntry{}}
}

// NeedLeaderElection makes the checker run on the leader only, beside the
// reconciler.
func (c *Checker) NeedLeaderElection() bool { return true }

// Start checks what Observe hands over as it comes, and every managed KEDA
// object each Interval, until ctx ends.
func (c *Checker) Start(ctx context.Context) error {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case obj := <-c.queue:
			if err := c.check(ctx, obj, false); err != nil && ctx.Err() == nil {
				c.log.Error(err, "checking triggers", "object", client.ObjectKeyFromObject(obj))
			}
		case <-t.C:
			if err := c.Round(ctx); err != nil && ctx.Err() == nil {
				c.log.Error(err, "trigger check round failed")
			}
		}
	}
}

// Round checks the triggers of every KEDA object mlscale manages.
func (c *Checker) Round(ctx context.Context) error {
	managed := client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue}
	var errs []error
	done := map[schema.GroupVersionKind]bool{}
	for _, k := range workload.Kinds {
		if done[k.KEDA] {
			continue
		}
		done[k.KEDA] = true
		list := k.NewKEDAList()
		if err := c.reader.List(ctx, list, managed); err != nil {
			errs = append(errs, fmt.Errorf("listing %ss: %w", k.KEDA.Kind, err))
			continue
		}
		items, err := apimeta.ExtractList(list)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range items {
			if obj, ok := o.(client.Object); ok {
				errs = append(errs, c.check(ctx, obj, true))
			}
		}
	}
	return errors.Join(errs...)
}

// Observe hands over a KEDA object the reconciler has just applied: its
// triggers are checked soon, unless the same triggers were checked within
// Interval. It never blocks the reconciler: when the queue is full the
// object waits for the next round.
func (c *Checker) Observe(kedaObj client.Object) {
	select {
	case c.queue <- kedaObj:
	default:
	}
}

// check queries the object's Prometheus triggers and reports the result on
// its owning workload; with force it checks even if checked recently.
func (c *Checker) check(ctx context.Context, kedaObj client.Object, force bool) error {
	owner := metav1.GetControllerOf(kedaObj)
	if owner == nil {
		return nil
	}
	needs := render.NeedsOf(kedaObj)
	fp := fingerprint(needs)
	now := c.opts.Now()
	c.mu.Lock()
	prev, ok := c.checked[owner.UID]
	c.mu.Unlock()
	if !force && ok && prev.fingerprint == fp && now.Sub(prev.at) < c.opts.Interval {
		return nil
	}
	status := map[string]string{}
	var details []string
	for _, n := range needs {
		st, count, detail := c.query(ctx, n)
		status[n.Trigger] = st
		if st == StatusSkipped || st == StatusError {
			status[n.Trigger] = st + ": " + detail
		}
		c.metrics.observe(kedaObj.GetNamespace(), owner.Kind, owner.Name, n.Trigger, st, count)
		if st == StatusEmpty && prev.status[n.Trigger] != StatusEmpty {
			details = append(details, fmt.Sprintf("trigger %s: query %q on %s returns no series; it %s", n.Trigger, n.Query, redact(n.Server), strings.TrimPrefix(n.String(), "trigger "+n.Trigger+" ")))
		}
	}
	c.mu.Lock()
	c.checked[owner.UID] = checkedEntry{fingerprint: fp, at: now, status: status}
	c.mu.Unlock()
	ref := ownerObject(kedaObj.GetNamespace(), owner)
	for _, d := range details {
		if c.recorder != nil {
			c.recorder.Eventf(ref, nil, corev1.EventTypeWarning, ReasonQueryEmpty, "Check",
				"%s; KEDA reads the missing value as 0, so the workload does not scale on it", d)
		}
	}
	if len(needs) == 0 || sameStatus(prev.status, status) && ok {
		return nil
	}
	return c.annotate(ctx, ref, status, now)
}

// query runs one trigger's query and returns its status and the number of
// series, or why it was skipped or failed.
func (c *Checker) query(ctx context.Context, n render.Need) (status string, series int, detail string) {
	u, err := url.Parse(n.Server)
	if err != nil || u.Host == "" {
		return StatusSkipped, 0, "the server address is not a URL"
	}
	switch {
	case n.Auth:
		return StatusSkipped, 0, "the trigger uses a TriggerAuthentication; mlscale does not read its Secret"
	case !c.allowed(u):
		return StatusSkipped, 0, fmt.Sprintf("%s is neither the default Prometheus server nor on the allowed endpoints", u.Hostname())
	}
	cl, err := api.NewClient(api.Config{Address: n.Server, RoundTripper: limitedTransport{c.opts.Transport, c.opts.MaxBytes}})
	if err != nil {
		return StatusError, 0, err.Error()
	}
	qctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	v, _, _, err := promv1.NewAPI(cl).Query(qctx, n.Query, c.opts.Now(), promv1.WithTimeout(c.opts.Timeout))
	if err != nil {
		return StatusError, 0, redactErr(err.Error(), n.Server)
	}
	if count := seriesCount(v); count > 0 {
		return StatusOK, count, ""
	}
	return StatusEmpty, 0, ""
}

// allowed reports whether the server may be queried: the default server,
// or a host on the allowed endpoints.
func (c *Checker) allowed(u *url.URL) bool {
	if d, err := url.Parse(c.opts.DefaultServer); err == nil && d.Host != "" && strings.EqualFold(d.Host, u.Host) {
		return true
	}
	return c.opts.Allowed != nil && c.opts.Allowed(u.Hostname())
}

// seriesCount counts the series (or a scalar's one value) of a result.
func seriesCount(v model.Value) int {
	switch r := v.(type) {
	case model.Vector:
		return len(r)
	case model.Matrix:
		return len(r)
	case *model.Scalar:
		return 1
	}
	return 0
}

// statusAnnotation is the value of mlscale.io/trigger-status.
type statusAnnotation struct {
	// Checked is when the triggers were last checked with a change.
	Checked time.Time `json:"checked"`
	// Triggers maps each Prometheus trigger to ok, empty, error or skipped.
	Triggers map[string]string `json:"triggers"`
}

// annotate writes the statuses in the workload's mlscale.io/trigger-status.
func (c *Checker) annotate(ctx context.Context, ref *metav1.PartialObjectMetadata, status map[string]string, now time.Time) error {
	b, err := json.Marshal(statusAnnotation{Checked: now.UTC().Truncate(time.Second), Triggers: status})
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{intent.KeyTriggerStatus: string(b)}}})
	if err != nil {
		return err
	}
	if err := c.writer.Patch(ctx, ref, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("writing %s on %s %s/%s: %w", intent.KeyTriggerStatus, ref.Kind, ref.Namespace, ref.Name, err)
	}
	return nil
}

// ownerObject is the workload a KEDA object belongs to, as an object to
// patch and record Events on.
func ownerObject(namespace string, owner *metav1.OwnerReference) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{}
	o.APIVersion, o.Kind = owner.APIVersion, owner.Kind
	o.Namespace, o.Name, o.UID = namespace, owner.Name, owner.UID
	return o
}

func sameStatus(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// fingerprint identifies a set of needs: the same triggers, queries and
// servers.
func fingerprint(needs []render.Need) string {
	parts := make([]string, 0, len(needs))
	for _, n := range needs {
		parts = append(parts, n.Trigger+"\x00"+n.Server+"\x00"+n.Query)
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x01")
}

// redact removes a password from a server URL for messages.
func redact(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "the trigger's server"
	}
	return u.Redacted()
}

// redactErr removes the server's password from an error message.
func redactErr(msg, server string) string {
	if u, err := url.Parse(server); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// limitedTransport bounds the size of every response body.
type limitedTransport struct {
	next http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, t.max+1), c: resp.Body, max: t.max}
	return resp, nil
}

// limitedBody fails a read past max bytes.
type limitedBody struct {
	r    io.Reader
	c    io.Closer
	max  int64
	read int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.max {
		return n, fmt.Errorf("the response is larger than %d bytes", b.max)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }
