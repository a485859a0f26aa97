package render

import (
	"fmt"
	"strconv"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// The RabbitMQ trigger: KEDA's rabbitmq scaler on a queue's length, over
// AMQP, with credentials only through a TriggerAuthentication.

// rabbitTrigger renders the RabbitMQ trigger; false when the annotations
// are missing or wrong (the problem is in r.errs).
func (r *renderer) rabbitTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	in := r.in
	if in.RabbitMQ.Queue == "" && r.profile != intent.ProfileCeleryWorker {
		for _, k := range []string{intent.KeyRabbitMQHost, intent.KeyRabbitMQAuth, intent.KeyQueueTarget} {
			if _, ok := r.w.Annotations[k]; ok {
				r.errs.Add(k, r.w.Annotations[k], "is set without "+intent.KeyRabbitMQQueue, "set "+intent.KeyRabbitMQQueue+" too, or remove it")
			}
		}
		return kedav1alpha1.ScaleTriggers{}, false
	}
	if in.RabbitMQ.Queue == "" {
		r.errs.Add(intent.KeyRabbitMQQueue, "", fmt.Sprintf("is required by profile %q", r.profile), "the name of the queue the workers consume")
		return kedav1alpha1.ScaleTriggers{}, false
	}
	hostValue := in.RabbitMQ.Host
	if hostValue == "" {
		hostValue = "rabbitmq"
	}
	host, err := intent.ParseRabbitHost(hostValue)
	if err != nil { // already reported by the parser
		return kedav1alpha1.ScaleTriggers{}, false
	}
	target := ptr.Deref(in.QueueTarget, r.def.QueueTarget)
	t := kedav1alpha1.ScaleTriggers{
		Type: "rabbitmq", Name: TriggerRabbitMQ,
		Metadata: map[string]string{
			"protocol":        "amqp",
			"host":            host.URL(r.w.Namespace, r.f.ClusterDomain),
			"queueName":       in.RabbitMQ.Queue,
			"mode":            "QueueLength",
			"value":           strconv.FormatInt(target, 10),
			"activationValue": fmtFloat(r.activation()),
		},
	}
	if in.RabbitMQ.Auth != "" {
		t.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: in.RabbitMQ.Auth}
	} else {
		r.warn("%s is not set: KEDA will connect to RabbitMQ without credentials; name a TriggerAuthentication holding username and password", intent.KeyRabbitMQAuth)
	}
	return t, true
}
