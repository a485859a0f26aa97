package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPricesFor(t *testing.T) {
	p := Prices{Default: 1, Models: map[string]float64{
		"H100":                  4,
		"H100 NVL":              5,
		"NVIDIA A100-SXM4-80GB": 3,
	}}
	for model, want := range map[string]float64{
		"NVIDIA H100 80GB HBM3": 4,
		"NVIDIA H100 NVL":       5,
		"NVIDIA A100-SXM4-80GB": 3,
		"nvidia h100 pcie":      4,
		"NVIDIA L4":             1,
		"":                      1,
	} {
		if got := p.For(model); got != want {
			t.Errorf("For(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestParsePrice(t *testing.T) {
	var p Prices
	if err := p.ParsePrice("H100=4.5"); err != nil || p.Models["H100"] != 4.5 {
		t.Fatalf("ParsePrice(H100=4.5): %v, %v", err, p.Models)
	}
	for _, bad := range []string{"H100", "=3", "H100=abc", "H100=-1", "H100=NaN"} {
		err := p.ParsePrice(bad)
		if err == nil || !strings.Contains(err.Error(), "--gpu-price") {
			t.Errorf("ParsePrice(%q) error = %v, want one naming --gpu-price", bad, err)
		}
	}
}

func TestLoadPrices(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := LoadPrices(write("ok.yaml", "default: 2\nmodels:\n  H100: 4.5\n"))
	if err != nil || p.Default != 2 || p.Models["H100"] != 4.5 {
		t.Fatalf("LoadPrices: %+v, %v", p, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown.yaml":          {"price: 2\n", `unknown field "price"; allowed fields: default`},
		"negative.yaml":         {"models:\n  H100: -1\n", `models.H100: price -1 for GPU model "H100" is invalid; allowed: a price per GPU-hour of 0 or more`},
		"negative-default.yaml": {"default: -2\n", "default: price -2 is invalid; allowed: a price per GPU-hour of 0 or more"},
		"string-price.yaml":     {"models:\n  H100: cheap\n", `models.H100: "cheap" is not a number; allowed: a price per GPU-hour of 0 or more`},
		"string-default.yaml":   {"default: free\n", `default: "free" is not a number; allowed`},
		"models-list.yaml":      {"models: [H100]\n", "models: [\"H100\"] is not a map; allowed: a map of GPU model"},
		"list.yaml":             {"- 1\n", "not a mapping of fields; allowed fields"},
		"empty-model.yaml":      {"models:\n  \"\": 1\n", "models: a GPU price has an empty model; allowed"},
	} {
		if _, err := LoadPrices(write(name, tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadPrices(%s) error = %v, want it to contain %q", name, err, tc.want)
		}
	}
	if p, err := LoadPrices(write("empty.yaml", "")); err != nil || p.Default != 0 || len(p.Models) != 0 {
		t.Errorf("LoadPrices(empty) = %+v, %v; want no prices", p, err)
	}
	if _, err := LoadPrices(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "--prices-file") {
		t.Errorf("LoadPrices(missing) error = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.ListenAddress = "" }, "--listen-address"},
		{func(c *Config) { c.PodResourcesSocket = "" }, "--pod-resources-socket"},
		{func(c *Config) { c.IdleThreshold = 0 }, "--idle-threshold"},
		{func(c *Config) { c.IdleThreshold = 101 }, "--idle-threshold"},
		{func(c *Config) { c.IdleWindow = -time.Second }, "--idle-window"},
		{func(c *Config) { c.SampleInterval = time.Millisecond }, "--sample-interval"},
		{func(c *Config) { c.ListenAddress = "bogus" }, "--listen-address"},
		{func(c *Config) { c.ListenAddress = ":http" }, "--listen-address"},
		{func(c *Config) { c.ListenAddress = ":70000" }, "--listen-address"},
		{func(c *Config) { c.Prices.Default = -1 }, "--default-gpu-price -1 is invalid; allowed: a price per GPU-hour of 0 or more"},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tc.want)
		}
	}
}
