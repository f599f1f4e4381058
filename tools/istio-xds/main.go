// Command istio-xds prints what istiod would push to one proxy for a set of Istio configs. It runs
// Istio's own config generation (the in-memory discovery server of istio.io/istio/pilot/test/xds)
// with no Kubernetes cluster, so the chart tests can check what Istio does with the chart's
// EnvoyFilter: EnvoyFilter patches that match nothing or land in the wrong place are applied
// silently by istiod, and only the generated listeners show them.
//
// Usage:
//
//	istio-xds -proxy gateway|sidecar -namespace NS -labels k=v,... [-istio-version 1.31.0]
//	          [-mesh-config YAML] [FILE...]
//
// The configs (EnvoyFilter, Gateway, ServiceEntry, ... as YAML documents) are read from the files,
// or from stdin without any. Documents of kinds Istio does not know (Deployment, Service) are
// ignored, and every known one must pass Istio's validation, as the admission webhook would
// require. The output is one JSON object on stdout:
//
//	{"istioVersion": "...", "proxy": {...}, "warnings": [...],
//	 "listeners": [Listener...], "clusters": [Cluster...]}
//
// with the listeners and clusters in Envoy's proto JSON (snake_case field names, Any values
// expanded with their "@type").
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	istiolog "istio.io/istio/pkg/log"
)

// options is the parsed command line.
type options struct {
	proxy        proxyOptions
	meshConfig   string
	files        []string
	verbose      bool
	pretty       bool
	showVersion  bool
	istioVersion string
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(2)
	}
	if o.showVersion {
		fmt.Println(pinnedIstioVersion())
		return
	}
	if err := configureIstioLogs(o.verbose); err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(2)
	}
	input, err := readInput(o.files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(2)
	}
	rep, err := generate(o.proxy, o.meshConfig, input)
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(1)
	}
	if err := writeReport(os.Stdout, rep, o.pretty); err != nil {
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var labels string
	fs := flag.NewFlagSet("istio-xds", flag.ContinueOnError)
	fs.StringVar(&o.proxy.kind, "proxy", "", "proxy kind: gateway (an Istio gateway, Envoy as router) or sidecar")
	fs.StringVar(&o.proxy.namespace, "namespace", "default", "namespace of the proxy's pod")
	fs.StringVar(&labels, "labels", "", "the proxy pod's labels, as k=v,k=v")
	fs.StringVar(&o.proxy.ip, "ip", "10.0.0.10", "the proxy pod's IP (a sidecar's workload is found by it)")
	fs.StringVar(&o.proxy.istioVersion, "istio-version", "",
		"ISTIO_VERSION the proxy reports (matched by EnvoyFilter proxyVersion); default: the pinned Istio's")
	fs.StringVar(&o.meshConfig, "mesh-config", "",
		"istiod's mesh config (MeshConfig YAML, merged over Istio's defaults), e.g. extensionProviders")
	fs.BoolVar(&o.verbose, "v", false, "keep Istio's info logs on stderr")
	fs.BoolVar(&o.pretty, "pretty", false, "indent the JSON output")
	fs.BoolVar(&o.showVersion, "version", false, "print the pinned Istio version and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.files = fs.Args()
	if o.showVersion {
		return o, nil
	}
	if o.proxy.kind != "gateway" && o.proxy.kind != "sidecar" {
		return o, fmt.Errorf("-proxy must be gateway or sidecar, got %q", o.proxy.kind)
	}
	parsed, err := parseLabels(labels)
	if err != nil {
		return o, err
	}
	o.proxy.labels = parsed
	if o.proxy.istioVersion == "" {
		o.proxy.istioVersion = pinnedIstioVersion()
	}
	return o, nil
}

// parseLabels reads "k=v,k=v" (empty: no labels).
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-labels: %q is not k=v", kv)
		}
		out[k] = v
	}
	return out, nil
}

func readInput(files []string) (string, error) {
	if len(files) == 0 {
		b, err := io.ReadAll(os.Stdin)
		return string(b), err
	}
	var sb strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sb.WriteString("\n---\n")
		sb.Write(b)
	}
	return sb.String(), nil
}

// configureIstioLogs sends Istio's logs to stderr (stdout carries the JSON) and, unless verbose,
// keeps only warnings and errors: a patch Istio drops is logged as an error, while every start of
// the discovery server prints info lines. The fake server also logs errors about Gateway API CRDs
// and ingress classes it does not have; they do not affect the generated config.
func configureIstioLogs(verbose bool) error {
	o := istiolog.DefaultOptions()
	o.OutputPaths = []string{"stderr"}
	o.ErrorOutputPaths = []string{"stderr"}
	if err := istiolog.Configure(o); err != nil {
		return err
	}
	if !verbose {
		for _, s := range istiolog.Scopes() {
			s.SetOutputLevel(istiolog.WarnLevel)
		}
	}
	return nil
}
