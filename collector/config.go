// Package collector is `mlscale collector`: it samples every GPU of a node
// through NVML (package gpu), attributes each GPU and MIG device to the pod
// and container that holds it through the kubelet's pod-resources API
// (package podresources), accounts allocated and idle GPU time and its cost
// per container, and exposes it all to Prometheus as mlscale_gpu_* metrics
// (a client_golang Collector).
//
// The accounting (Ledger) and price lookup (Prices) are pure; Collector
// moves data from the sources into them and out to Prometheus; Run serves
// /metrics and drives the sampling loop.
package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/collector/podresources"
)

// Config is the configuration of the collector.
type Config struct {
	// ListenAddress is where /metrics and /healthz are served, e.g. ":9400".
	ListenAddress string
	// PodResourcesSocket is the kubelet's pod-resources socket.
	PodResourcesSocket string
	// NVMLLibrary is the path of libnvidia-ml; "" searches the default
	// (libnvidia-ml.so.1).
	NVMLLibrary string
	// NodeName is added to every series as the "node" label ("" adds none).
	NodeName string
	// Prices are the prices of one GPU-hour per GPU model.
	Prices Prices
	// IdleThreshold is the GPU utilisation (percent) under which an
	// allocated GPU counts as idle.
	IdleThreshold float64
	// IdleWindow is how long an allocated GPU must stay under IdleThreshold
	// before mlscale_gpu_idle_allocated reports it.
	IdleWindow time.Duration
	// SampleInterval is how often NVML and the kubelet are read.
	SampleInterval time.Duration
}

// DefaultConfig returns the defaults of `mlscale collector`.
func DefaultConfig() Config {
	return Config{
		ListenAddress:      ":9400",
		PodResourcesSocket: podresources.DefaultSocket,
		IdleThreshold:      5,
		IdleWindow:         15 * time.Minute,
		SampleInterval:     10 * time.Second,
	}
}

// Validate checks the configuration; errors name the flag and the allowed
// values.
func (c Config) Validate() error {
	var errs []error
	if err := checkListenAddress(c.ListenAddress); err != nil {
		errs = append(errs, err)
	}
	if c.PodResourcesSocket == "" {
		errs = append(errs, fmt.Errorf("--pod-resources-socket is empty; allowed: a unix socket path, e.g. %s", podresources.DefaultSocket))
	}
	if math.IsNaN(c.IdleThreshold) || c.IdleThreshold <= 0 || c.IdleThreshold > 100 {
		errs = append(errs, fmt.Errorf("--idle-threshold %v is out of range; allowed: a percent in (0, 100]", c.IdleThreshold))
	}
	if c.IdleWindow < 0 {
		errs = append(errs, fmt.Errorf("--idle-window %v is negative; allowed: a duration of 0 or more, e.g. 15m", c.IdleWindow))
	}
	if c.SampleInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--sample-interval %v is too short; allowed: a duration of 100ms or more, e.g. 10s", c.SampleInterval))
	}
	if badPrice(c.Prices.Default) {
		errs = append(errs, fmt.Errorf("--default-gpu-price %v is invalid; allowed: a price per GPU-hour of 0 or more", c.Prices.Default))
	} else if err := c.Prices.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkListenAddress checks a --listen-address: host:port with a port
// number (0 picks a free one) and an optional host.
func checkListenAddress(addr string) error {
	const allowed = "allowed: host:port or :port, e.g. :9400 or 127.0.0.1:9400"
	if addr == "" {
		return fmt.Errorf("--listen-address is empty; %s", allowed)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen-address %q: %w; %s", addr, err, allowed)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("--listen-address %q: port %q is not a number from 0 to 65535; %s", addr, port, allowed)
	}
	return nil
}

// badPrice reports whether v is not a valid price (negative, NaN or
// infinite).
func badPrice(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }

// Prices are the prices of one GPU-hour, by GPU model, in one currency.
type Prices struct {
	// Default applies to models that match no entry of Models.
	Default float64 `json:"default"`
	// Models maps a GPU model, or a part of its NVML name such as "H100",
	// to its price per GPU-hour.
	Models map[string]float64 `json:"models"`
}

// Validate checks that no price is negative or not a number and that no
// model is empty; errors name the field of a prices file (default,
// models.MODEL) and the allowed values.
func (p Prices) Validate() error {
	if badPrice(p.Default) {
		return fmt.Errorf("default: price %v is invalid; allowed: a price per GPU-hour of 0 or more", p.Default)
	}
	for _, m := range sortedKeys(p.Models) {
		if strings.TrimSpace(m) == "" {
			return errors.New("models: a GPU price has an empty model; allowed: an NVML model name or a part of it, e.g. H100")
		}
		if badPrice(p.Models[m]) {
			return fmt.Errorf("models.%s: price %v for GPU model %q is invalid; allowed: a price per GPU-hour of 0 or more", m, p.Models[m], m)
		}
	}
	return nil
}

// For returns the price of one GPU-hour of model: the entry whose key equals
// the model, else the longest key contained in it (case-insensitive), else
// Default.
func (p Prices) For(model string) float64 {
	if v, ok := p.Models[model]; ok {
		return v
	}
	best, found := "", false
	lower := strings.ToLower(model)
	for _, k := range sortedKeys(p.Models) {
		if strings.Contains(lower, strings.ToLower(k)) && len(k) > len(best) {
			best, found = k, true
		}
	}
	if found {
		return p.Models[best]
	}
	return p.Default
}

// ParsePrice parses a --gpu-price value "MODEL=PRICE" into p.
func (p *Prices) ParsePrice(s string) error {
	model, value, ok := strings.Cut(s, "=")
	model = strings.TrimSpace(model)
	if !ok || model == "" {
		return fmt.Errorf("--gpu-price %q: allowed: MODEL=PRICE, e.g. H100=4.50", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("--gpu-price %q: price %q is not a number of 0 or more", s, value)
	}
	if p.Models == nil {
		p.Models = map[string]float64{}
	}
	p.Models[model] = v
	return nil
}

// LoadPrices reads a prices file (YAML or JSON):
//
//	default: 2.0
//	models:
//	  H100: 4.5
//	  "NVIDIA A100-SXM4-80GB": 3.0
//
// Errors name the file, the field (default, models or models.MODEL) and the
// allowed values.
func LoadPrices(path string) (Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Prices{}, fmt.Errorf("reading --prices-file: %w", err)
	}
	p, err := parsePrices(data)
	if err != nil {
		return Prices{}, fmt.Errorf("--prices-file %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return Prices{}, fmt.Errorf("--prices-file %s: %w", path, err)
	}
	return p, nil
}

// pricesFields says which fields a prices file allows.
const pricesFields = "allowed fields: default (a number), models (a map of GPU model to price per GPU-hour)"

// parsePrices decodes a prices file field by field, so that an error names
// the field at fault.
func parsePrices(data []byte) (Prices, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Prices{}, fmt.Errorf("not YAML: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return Prices{}, fmt.Errorf("not a mapping of fields; %s", pricesFields)
	}
	var p Prices
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "default":
			if err := json.Unmarshal(v, &p.Default); err != nil {
				return Prices{}, fmt.Errorf("default: %s is not a number; allowed: a price per GPU-hour of 0 or more", v)
			}
		case "models":
			var models map[string]json.RawMessage
			if err := json.Unmarshal(v, &models); err != nil {
				return Prices{}, fmt.Errorf("models: %s is not a map; allowed: a map of GPU model (an NVML name or a part of it, e.g. H100) to price per GPU-hour", v)
			}
			if models != nil {
				p.Models = make(map[string]float64, len(models))
			}
			for _, m := range sortedKeys(models) {
				var price float64
				if err := json.Unmarshal(models[m], &price); err != nil {
					return Prices{}, fmt.Errorf("models.%s: %s is not a number; allowed: a price per GPU-hour of 0 or more", m, models[m])
				}
				p.Models[m] = price
			}
		default:
			return Prices{}, fmt.Errorf("unknown field %q; %s", k, pricesFields)
		}
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
