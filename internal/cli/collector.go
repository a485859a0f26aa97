package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mlscale/mlscale/collector"
)

func newCollectorCmd() *cobra.Command {
	cfg := collector.DefaultConfig()
	var (
		prices     []string
		pricesFile string
	)
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Export per-pod GPU metrics and GPU cost from NVML (a DaemonSet on GPU nodes)",
		Long:  collectorHelp,
		Example: `  mlscale collector --node-name "$NODE_NAME" --gpu-price H100=4.50 --gpu-price A100=2.20
  mlscale collector --listen-address :9400 --prices-file /etc/mlscale/prices.yaml --idle-window 30m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pricesFile != "" {
				p, err := collector.LoadPrices(pricesFile)
				if err != nil {
					return usageError{err}
				}
				if cmd.Flags().Changed("default-gpu-price") {
					p.Default = cfg.Prices.Default
				}
				cfg.Prices = p
			}
			for _, s := range prices {
				if err := cfg.Prices.ParsePrice(s); err != nil {
					return usageError{err}
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return collector.Run(cmd.Context(), cfg, log, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ListenAddress, "listen-address", cfg.ListenAddress, "host:port on which /metrics and /healthz are served")
	f.StringVar(&cfg.PodResourcesSocket, "pod-resources-socket", cfg.PodResourcesSocket, "the kubelet's pod-resources unix socket")
	f.StringVar(&cfg.NVMLLibrary, "nvml-library", cfg.NVMLLibrary, `path of libnvidia-ml; "" searches libnvidia-ml.so.1 on the library path`)
	f.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, `value of the "node" label on every series (usually from the downward API: spec.nodeName)`)
	f.StringArrayVar(&prices, "gpu-price", nil, "price of one GPU-hour as MODEL=PRICE; MODEL is an NVML model name or part of it (H100); repeatable; overrides --prices-file")
	f.StringVar(&pricesFile, "prices-file", "", "YAML file of GPU-hour prices: default: PRICE, models: {MODEL: PRICE}")
	f.Float64Var(&cfg.Prices.Default, "default-gpu-price", cfg.Prices.Default, "price of one GPU-hour of a model without a price")
	f.Float64Var(&cfg.IdleThreshold, "idle-threshold", cfg.IdleThreshold, "GPU utilisation (percent) under which an allocated GPU is idle")
	durationVar(f, &cfg.IdleWindow, "idle-window", cfg.IdleWindow, "how long an allocated GPU must stay idle to be reported by mlscale_gpu_idle_allocated")
	durationVar(f, &cfg.SampleInterval, "sample-interval", cfg.SampleInterval, "time between two reads of NVML and the kubelet")
	return cmd
}
