// Package intent parses the mlscale.io annotation contract on a workload into
// a typed Intent. Parsing is pure: it reads a map of annotations and returns
// the intent, the warnings a user should see, and every error at once.
package intent

// Prefix is the prefix of every annotation mlscale reads or writes.
const Prefix = "mlscale.io/"

// Annotation keys of the v1 contract. docs/annotations.md documents each one;
// a test fails when a key here is missing from that document.
const (
	KeyAutoscale          = Prefix + "autoscale"
	KeyProfile            = Prefix + "profile"
	KeyMinReplicas        = Prefix + "min-replicas"
	KeyMaxReplicas        = Prefix + "max-replicas"
	KeyScaleToZero        = Prefix + "scale-to-zero"
	KeyActivationTarget   = Prefix + "activation-target"
	KeyCooldown           = Prefix + "cooldown"
	KeyPollingInterval    = Prefix + "polling-interval"
	KeyScaleDownWindow    = Prefix + "scale-down-stabilization"
	KeyRabbitMQQueue      = Prefix + "rabbitmq-queue"
	KeyRabbitMQHost       = Prefix + "rabbitmq-host"
	KeyRabbitMQAuth       = Prefix + "rabbitmq-auth"
	KeyQueueTarget        = Prefix + "queue-target"
	KeyPrometheusQuery    = Prefix + "prometheus-query"
	KeyPrometheusTarget   = Prefix + "prometheus-target"
	KeyPrometheusServer   = Prefix + "prometheus-server"
	KeyCPUTarget          = Prefix + "cpu-target"
	KeyMemoryTarget       = Prefix + "memory-target"
	KeyGPUTarget          = Prefix + "gpu-target"
	KeyPredictive         = Prefix + "predictive"
	KeyDemandQuery        = Prefix + "demand-query"
	KeyCapacityPerReplica = Prefix + "capacity-per-replica"
	KeyLookahead          = Prefix + "lookahead"
	KeyTargetUnder        = Prefix + "target-under"
	KeyFloorDownDelay     = Prefix + "floor-down-delay"
	KeyFloorDownInterval  = Prefix + "floor-down-interval"
	KeyBusinessHours      = Prefix + "business-hours"
	KeyPredictedFloor     = Prefix + "predicted-floor"
	KeyWakeQuery          = Prefix + "wake-query"
	KeySkipWakeCheck      = Prefix + "skip-wake-check"
	KeyRolloutStrategy    = Prefix + "rollout-strategy"
	KeyAdoptHPA           = Prefix + "adopt-hpa"
)

// Annotations that mlscale writes itself; users never set them.
const (
	// KeyRenderedHash records the hash of the KEDA spec rendered at admission.
	KeyRenderedHash = Prefix + "rendered-hash"
	// KeyPrediction is the predictor's explanation of the floor it wrote
	// in KeyPredictedFloor (when, model, cycle, confidence, mode), as JSON.
	KeyPrediction = Prefix + "prediction"
	// KeyTriggerStatus is the reconciler's check of the workload's
	// Prometheus triggers: whether each query returns a series, as JSON.
	KeyTriggerStatus = Prefix + "trigger-status"
	// KeyPredictorState is what the predictor learned from the
	// workload's evaluated forecasts, as JSON: how the forecasts and
	// their blends with each baseline did over the last whole days
	// (predictor.SelectorState) and the calibration of the floors'
	// margins (predictor.CalibratorState), so that a restart or a new
	// leader keeps the blend and the margins.
	KeyPredictorState = Prefix + "predictor-state"
)

// UserKeys lists every annotation a user (or the predictor, for
// KeyPredictedFloor) may set, in documentation order.
var UserKeys = []string{
	KeyAutoscale, KeyProfile, KeyMinReplicas, KeyMaxReplicas, KeyScaleToZero,
	KeyActivationTarget, KeyCooldown, KeyPollingInterval, KeyScaleDownWindow,
	KeyRabbitMQQueue, KeyRabbitMQHost, KeyRabbitMQAuth, KeyQueueTarget,
	KeyPrometheusQuery, KeyPrometheusTarget, KeyPrometheusServer,
	KeyCPUTarget, KeyMemoryTarget, KeyGPUTarget,
	KeyWakeQuery, KeySkipWakeCheck, KeyBusinessHours, KeyRolloutStrategy, KeyAdoptHPA,
	KeyPredictive, KeyDemandQuery, KeyCapacityPerReplica, KeyLookahead, KeyTargetUnder,
	KeyFloorDownDelay, KeyFloorDownInterval, KeyPredictedFloor,
}

// SystemKeys lists annotations mlscale writes on workloads.
var SystemKeys = []string{KeyRenderedHash, KeyPrediction, KeyTriggerStatus, KeyPredictorState}

// KeyBaselineScores held the Selector's scores before KeyPredictorState
// took them in with the calibration. It is retired (see RetiredKeys).
const KeyBaselineScores = Prefix + "baseline-scores"

// RetiredKeys lists annotations earlier builds of mlscale wrote on
// workloads and this one no longer does. They are accepted like
// SystemKeys, so that a workload that still carries one is not refused,
// and their writer removes them at its next write.
var RetiredKeys = []string{KeyBaselineScores}
