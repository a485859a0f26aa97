package cli

// The long help texts of the subcommands (cobra.Command.Long), one constant
// each, so that the commands' constructors stay short.

// backtestHelp is `mlscale backtest --help`.
const backtestHelp = `backtest replays a demand trace (CSV of a time and a value under a header
such as NAB's "timestamp,value", Crane's "ts,value" or Grafana's "Time","<series>":
the time column named timestamp, ts, time, date, datetime, epoch, _time,
@timestamp or ds (Prophet's "ds,y"), or unnamed as pandas writes its index
(",value"), the value column
anything, or, with more columns, the one named value or given by --column; a
file of two columns, the time then the value, may also have no header;
columns separated by commas, or by semicolons or tabs as spreadsheets set to
a language with a decimal comma write them, numbers then with a decimal comma
or point; a time is Unix seconds, whole or decimal, Unix milliseconds,
microseconds or nanoseconds (the first unit that gives a year before 10000),
or a date and time: YYYY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM in UTC, RFC 3339
such as 2015-09-01T05:33:00Z or 2015-09-01 05:33:00+00:00, or a date YYYY-MM-DD;
or the JSON that Prometheus's /api/v1/query_range returns, as curl saves it:
one series, or several and --column LABEL=VALUE to choose one; NaN is a gap)
with its first part as history (--train: half by default, or a number of
samples, a fraction or percentage, or a duration such as 168h). At every later
sample it forecasts the peak demand of the next --lookahead window with
mlscale's predictor and with baselines computed in the same run (persistence,
seasonal naive over a day and a week, Holt-Winters; the week's takes the
day-ago window where the week-ago one is before the trace, a line says on how
many steps), and compares them with
the actual peak. For every figure below, lower is better:

  MAE        mean absolute error of the forecast peak, in the trace's units.
  sMAPE      symmetric mean absolute percentage error: the mean of
             200 * |forecast - actual| / (|forecast| + |actual|), from 0%
             (exact) to 200%; it does not depend on the trace's scale.
  MASE       mean absolute scaled error: the MAE divided by the in-sample MAE
             of the seasonal-naive forecast (the peak of the same window a
             day earlier) on the training part. Below 1 beats that forecast;
             n/a (null in JSON) where that error is 0, a constant history.
  under %    the percentage of steps where the floor's capacity (floor times
             capacity per replica) is below the actual peak. mlscale's floors
             are calibrated to --target-under (2%) on the errors of its
             forecasts so far, as the predictor does, and provision for
             at most 1.1 times the highest demand of the last two days
             (unless the forecast itself is higher).
  over       the mean over-provisioning: the replicas the floor holds beyond
             ceil(actual peak / capacity per replica), averaged over every step.

It also simulates capacity with a replica cold start (--cold-start): a static
fleet sized for the history's peak; reactive scaling alone (KEDA-like, with
scale to zero: over each step it holds the replicas the previous step's
demand needed, which start after the cold start and go only after a 5-minute
stabilisation window); and reactive scaling plus mlscale's predicted floors.
It reports replica-hours and under-provisioned minutes for each (lower is
better). The floors fall as mlscale predictor's do, tuned by the same flags:
--down-delay (10m) below a --hysteresis band (10% of the floor, or the
forecast's recent error), then a step per --down-interval (5m); a line under
the capacity per replica says what they were (floor_falls in JSON). A queue
that a cron fills drains in minutes, and its floors are cheaper with a short
delay: try --down-delay 0 on its trace before setting it on the predictor.

The report opens with a headline: mlscale's MAE as a multiple of the best
baseline's (the one with the lowest MAE), the percentage of steps with the
floors under-provisioned (and the target), the mean floor capacity as a
multiple of the mean actual peak (above 1 is over-provisioning), and the
replica-hours of reactive scaling plus the floors as a multiple of the
static fleet's and of reactive scaling alone's. Under it, the cycles found
in the training part (which the first fit uses) and over the whole trace: a
weekly cycle needs two weeks of history, so a two-week trace shows it over
the whole trace only (cycle and cycle_whole_trace in JSON). As in the
predictor, once a day of forecasts has been scored, a baseline (persistence
or seasonal naive) that forecast better than mlscale's model over the week
before is blended into its forecast; a line under the cycles says on how
many steps, with what mean weight (baseline_blend_pct and
baseline_share_mean in JSON). At a target of 5% or more, on demand with
heavy-tailed spikes, another line says on how many steps the floors took the
plain margin (plain_margin_pct). A floor holds at most twice the replicas of
the training part's peak (where a workload has its mlscale.io/max-replicas);
where demand outgrows that, a line says on how many steps the floors were at
that ceiling and under the actual peak (floor_ceiling, under_at_ceiling_pct).
One or two samples in a row over a hundred times anything of the week before
them are a scrape gone wrong, not demand: the forecast made at them does not
provision for them (a third in a row is demand) and the floors' calibration
leaves them out; a line says how many were evaluated (far_run_samples).

Rows that repeat the previous row's timestamp (real exports have them) are
merged into one sample with the highest of their values, since the predictor
forecasts peaks; a note says how many. Rows whose value is empty, NaN, null,
None, N/A, NA, - or infinite have no sample. Such rows and missing rows are
gaps, filled by linear interpolation; notes say how many rows had no value
and how many samples were filled. A filled sample leans on the next observed
one, so a forecast made in a gap (by mlscale, a baseline or reactive scaling)
sees only the samples up to the last observed one; it is of the window after
its own time, as the predictor's is when the newest sample is minutes old. Rows newest first (as some
exports write them) are read in reverse, with a note; rows out of time order
(a local-time export repeats an hour when the clocks go back) are put in order
with a note where they are at most 1% of the rows, and are an error where they
are more.

--capacity-per-replica is the demand one replica serves; by default a tenth
of the history's 95th percentile (of its maximum when the percentile is 0,
as for a workload idle most of the time), rounded to 4 significant digits,
so that the peak needs about ten replicas.

-o json writes the report as JSON, every figure rounded to 4 significant
digits (whole numbers from 10,000 up); the headline is its "headline" object;
rows_merged counts the merged rows, rows_without_value those without a value
and samples_filled the samples filled in gaps; rows_newest_first says the rows
were newest first, rows_out_of_order counts the rows put in time order, and
no_header that the file had no header. Notes then go to standard error.

--forecasts-out writes mlscale's forecasts as CSV with the header
"time,forecast_peak,floor": time in Unix seconds, the step at which the
forecast was made for the window (time, time+lookahead]. The window holds
the next ceil(lookahead/step) samples of the trace, and at least one: with
the default 15m over a 30-minute trace, a forecast is for the next sample
(the JSON report's horizon_steps says how many). The metrics compare each
forecast_peak with the highest of those samples and floor times
capacity_per_replica with it too, so they can be recomputed from this file
and the trace.

--png draws the demand, mlscale's forecast peak and the capacity of its
floor (floor times capacity per replica) to a PNG file, and prints its path.
A trace longer than two weeks gets a panel of its last 7 days above the
panel of the whole trace (training history shaded); the legend is right of
the panels, and the ticks are at midnights (UTC), labelled every day, or
every 2, 7 (Mondays), 14, 28, ... days as the width allows.

Instead of a trace file, --prometheus-server URL --demand-query PROMQL
replays a workload's own history: the query (one series, as the workload's
mlscale.io/demand-query) over --window (336h, the two weeks the predictor
reads) up to --end (now) every --step (1m), read as the predictor reads it:
samples on one step merged keeping the maximum, missing steps filled from
their neighbours (both with a note). --trace-out FILE writes that history as
a trace file (timestamp,value, empty where a step was filled) that -f
replays the same, to keep or to share.

--business-hours takes the calendar of mlscale.io/business-hours: the
model expects load in those hours, as the predictor does for a workload
with that annotation.

--workload deployment/NAME (or statefulset/NAME; deploy/ and sts/ for
short) takes the demand query from a predictive workload instead, with -n,
--kubeconfig and --context as kubectl reads them: its mlscale.io/
annotations give the demand query, the capacity per replica, the lookahead,
the target under and the business hours, as the predictor reads them; a
flag given overrides its annotation. --prometheus-server is still needed:
it is the predictor's flag, not the workload's.`

// rootHelp is `mlscale --help`.
const rootHelp = `mlscale turns mlscale.io/... annotations on Deployments, StatefulSets and Jobs
into KEDA ScaledObjects and ScaledJobs with GPU-aware and scale-to-zero defaults.

The annotations are documented in docs/annotations.md.`

// collectorHelp is `mlscale collector --help`.
const collectorHelp = `collector runs on every GPU node (as a DaemonSet). Every --sample-interval it
reads each GPU through NVML (utilisation, memory, power, temperature, MIG
devices) and asks the kubelet's pod-resources API (--pod-resources-socket)
which pod and container hold each GPU and MIG device. It serves the result as
mlscale_gpu_* metrics on http://--listen-address/metrics, with allocated and
idle GPU-seconds and their cost per container (--gpu-price, --prices-file)
and mlscale_gpu_idle_allocated, 1 for a GPU that has stayed under
--idle-threshold for --idle-window.

libnvidia-ml is loaded at run time: on a node without it the collector still
runs, reports mlscale_gpu_nvml_up 0 with the reason, and logs it.
The metrics are listed in docs/collector.md. It stops on SIGTERM or Ctrl-C.`

// policyHelp is `mlscale policy --help`.
const policyHelp = `policy runs the Rego policies that mlscale's validating webhook enforces:
"policy test" runs their Rego tests, "policy eval" evaluates manifests against
them without a cluster.`

// policyTestHelp is `mlscale policy test --help`.
const policyTestHelp = `test runs every Rego test (rules named test_*) of the .rego files under DIR
(all subdirectories), as "opa test DIR" does, and prints the failures and a
summary. Without DIR it tests the policies built into mlscale. Policies in
DIR may import data.mlscale.lib, the built-in helpers, as user policies in
ConfigMaps may.

Exit status: 0 when every test passes, 1 when a test fails or the policies do
not compile, 2 for a bad command line.`

// policyEvalHelp is `mlscale policy eval --help`.
const policyEvalHelp = `eval reads Kubernetes manifests and evaluates each HorizontalPodAutoscaler
(autoscaling/v2; autoscaling/v1 is converted as the API server does),
ScaledObject, ScaledJob, Deployment, StatefulSet and Job against the
policies, as mlscale's validating webhook would at CREATE were the files
applied in order, as kubectl apply -f applies them (a directory's files in
name order). Each object sees what the webhook's inventory would hold then:
the objects before it that admission would have admitted (a denied object
never joins, so one conflict is reported once, on the object that makes
it): the ResourceQuotas of its namespace, and the HPAs and ScaledObjects
(the KEDA objects mlscale renders for annotated workloads included) on its
own scale target; a ScaledObject also sees the workload it scales. An
annotated workload is rendered with the GPU budget of the ResourceQuotas
before it and evaluated together with the KEDA object rendered for it; the
renderer's warnings are printed as admission returns them ("warn: mlscale:
..."). The objects are indexed by namespace and target, so evaluation time
grows linearly with their number.

Manifests are read as the API server reads them with kubectl's default
--validate=strict: field names are case-sensitive, and a duplicate field, an
unknown field (one in the wrong case included) or a kind in the wrong case
is an error naming the document, the object and the field.

--policy-config reads the webhook's policy configuration file; the flags
override it. --policies DIR uses DIR's policies instead of the built-in ones
(they may import data.mlscale.lib).

Each finding is printed as "WHERE: ACTION: MESSAGE" (-o json: one object
with the counts and a record per finding: where, kind, namespace, name,
action, policy, message, more). A policy's conflicts with several objects
on the same target are one line, the first message followed by "(and N more
like it)"; on a target more than 8 HPAs or ScaledObjects share (objects
admitted with warn or audit), an object is compared with the first 8 of each
first (and with all of them when that finds nothing), which the line says.
The summary counts these lines. Exit status: 0 when nothing would be denied
(warn and audit findings are printed but do not fail), 1 when something
would be denied, a document cannot be read or an object cannot be evaluated
(an HPA of a removed API version such as autoscaling/v2beta2), 2 for a bad
command line.`

// recommendHelp is `mlscale recommend --help`.
const recommendHelp = `recommend reads a workload's GPU history (GPUs held, GPU utilisation) and its
demand (by default vLLM's request rate; --demand-query for another) over
--window from Prometheus, through the series recorded by mlscale's rules
(deploy/prometheus/rules/mlscale.rules.yaml), and prints suggested
annotations: mlscale.io/min-replicas, max-replicas, gpu-target and
scale-to-zero, with the reason for each and the GPU-hours the suggestion
would have saved over the window.

The workload is named as the rules name it: the Deployment, StatefulSet or
Job name derived from its pods' names (docs/collector.md).`

// renderHelp is `mlscale render --help`.
const renderHelp = `render reads Kubernetes manifests (YAML or JSON, one or many documents per file)
and prints, for each Deployment, StatefulSet and Job that has opted in with
mlscale.io/autoscale: "true", the KEDA ScaledObject or ScaledJob that mlscale's
admission webhook would create for it. Other objects (unannotated workloads,
Namespaces, Secrets, TriggerAuthentications, ...) are skipped, with a warning
only when they look meant for mlscale: a workload with mlscale.io/ keys but
no mlscale.io/autoscale, or another kind that sets mlscale.io/autoscale.

-f takes a file, a directory (its .yaml, .yml and .json files in name order;
with -R its subdirectories too) or "-" for standard input, and may be repeated.

Output: with -o yaml (the default) a YAML stream, each object starting with a
"---" line; with -o json one "v1" List whose items are the objects (always a
List, even for none or one object). Both can be piped to "kubectl apply -f -".

Warnings go to standard error. A workload whose annotations admission would
deny gets the same message admission gives, on standard error; every document
is processed before mlscale exits with status 1, so that all problems show at
once. Unparseable YAML also gives status 1, naming the file, the document
(counted from 1) and its line. A bad command line gives status 2.`

// statusHelp is `mlscale status --help`.
const statusHelp = `status lists every opted-in workload (a Deployment, StatefulSet or Job with
mlscale.io/autoscale: "true") of a namespace (-n, default: the kubeconfig
context's) or of every namespace (-A), with what mlscale and KEDA made of it:

  WORKLOAD     Kind/name of the workload.
  KEDA         its ScaledObject or ScaledJob, <none> when there is none yet
               (see LAST EVENT: a RenderFailed Event says which annotation).
  READY        KEDA's Ready condition: True, False, Unknown, "-" before KEDA
               has looked at the object (-o json has the message).
  ACTIVE       KEDA's Active condition: True while a trigger is active.
  MIN, MAX     the object's minReplicaCount (which includes the predicted
               floor) and maxReplicaCount.
  REPLICAS     the workload's current replicas; for a Job, the Jobs its
               ScaledJob runs.
  FLOOR        mlscale.io/predicted-floor, written by the predictor.

-o wide adds:

  PREDICTION   the predictor's explanation (mlscale.io/prediction): mode and
               step, confidence, age.
  LAST EVENT   the latest RenderFailed, ApplyFailed or TriggerQueryEmpty
               Event on the workload, with its age and message.
  VIOLATIONS   the PolicyViolation Events of mlscale's policy audit on the
               workload, its KEDA object and the HPAs that target it.

-o json prints one JSON list with every field, messages whole, the
explanation and mlscale.io/trigger-status as the JSON they hold.

Events last as long as the API server keeps them (kube-apiserver's
--event-ttl, one hour by default), and the audit records a violation when it
first finds it (and again after a restart of mlscale webhook); an old
violation may be missing here while mlscale_policy_violations still counts
it.

It reads with the kubeconfig as kubectl does (--kubeconfig, KUBECONFIG,
~/.kube/config, --context); it needs list on the workloads,
ScaledObjects, ScaledJobs, HPAs and Events it shows. What it may not list
(Events, HPAs) or what is not installed (KEDA's CRDs) is a warning, and the
columns stay empty.`

// predictorHelp is `mlscale predictor --help`.
const predictorHelp = `predictor runs in the cluster, as a sidecar of mlscale webhook. Every
--interval, for each Deployment and StatefulSet with mlscale.io/autoscale and
mlscale.io/predictive "true", it:

  - reads --history of the workload's mlscale.io/demand-query from Prometheus
    (--prometheus-server) at --step resolution;
  - forecasts the peak demand over the lookahead window (mlscale.io/lookahead,
    or --lookahead) and its upper bound, calibrated on the workload's recent
    forecast errors so that demand exceeds the floor in at most the target
    share of steps (mlscale.io/target-under, or --target-under, 2%), and
    converts it to replicas with mlscale.io/capacity-per-replica;
  - makes the floor safe: clamped to the workload's min and max replicas,
    rising at once, falling only after --down-delay below a --hysteresis band
    by at most a step per --down-interval (a workload's
    mlscale.io/floor-down-delay and mlscale.io/floor-down-interval set its
    own); with no usable data (Prometheus
    down, the query failing, samples older than --max-staleness) it keeps the
    last good floor for --hold and then falls back to the minimum;
  - writes mlscale.io/predicted-floor and its explanation,
    mlscale.io/prediction (when, model, cycle, confidence, mode), on the
    workload; the reconciler folds the floor into minReplicaCount;
  - removes both annotations from workloads that are no longer predictive.

A predictive workload with missing or invalid annotations (no
mlscale.io/capacity-per-replica, a bad mlscale.io/lookahead, ...) gets no new
floor; the problem is logged once and counted in
mlscale_predictor_failures_total{stage="render"}.

It scores its forecasts as their windows pass. When the rolling error of the
last --error-window forecasts passes --error-threshold, it stops raising that
workload's floor (reactive scaling only) and says so in a Warning Event, the
log, the explanation and mlscale_predictor_fallback, until the error falls
below 0.8 times the threshold.

Only the leader writes (--leader-elect, a Lease of its own, --leader-election-id).
Metrics on --metrics-bind-address: mlscale_predictor_forecast_demand,
mlscale_predictor_forecast_upper_demand, mlscale_predictor_actual_demand,
mlscale_predictor_rolling_error, mlscale_predictor_floor_replicas,
mlscale_predictor_fallback, mlscale_predictor_failures_total,
mlscale_predictor_cycle_duration_seconds, mlscale_predictor_workloads.

See docs/predictor.md.`

// webhookHelp is `mlscale webhook --help`.
const webhookHelp = `webhook runs mlscale in the cluster:

  - the mutating admission webhook for annotated Deployments, StatefulSets and
    Jobs, over HTTPS with the certificate in --cert-dir (reloaded when it
    changes), on every replica;
  - the reconciler, which applies each opted-in workload's KEDA ScaledObject
    or ScaledJob with server-side apply and deletes it when the workload opts
    out, on the elected leader only (--leader-elect);
  - the validating admission webhook: mlscale's Rego policies (and user
    policies from ConfigMaps labelled mlscale.io/policy=true in
    --policy-namespace, tested before activation and reloaded on change)
    for HPAs, KEDA ScaledObjects and ScaledJobs and annotated workloads,
    configured by --policy-config, on every replica;
  - the policy audit loop, every --audit-interval (and no sooner than
    --audit-pace times its last round's duration) on the elected leader:
    mlscale_policy_violations and Events on the violating objects;
  - Prometheus metrics on --metrics-bind-address, and /healthz and /readyz
    (ready once the webhook server serves) on --health-probe-bind-address.

It stops cleanly on SIGTERM or Ctrl-C.`
