package main

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/test"
)

// istioLine is the Istio release line of the pinned module (the module's VERSION file, e.g.
// "1.31"), stamped by .ci/setup.d/20-go-tools.sh; "" in a plain `go build`.
var istioLine = ""

// proxyOptions describes the one proxy the configs are generated for.
type proxyOptions struct {
	kind         string // gateway | sidecar
	namespace    string
	labels       map[string]string
	ip           string
	istioVersion string
}

// report is what istio-xds prints.
type report struct {
	istioModule string
	proxy       proxyOptions
	warnings    []string
	listeners   []*listener.Listener
	clusters    []*cluster.Cluster
}

// pinnedIstioVersion is the ISTIO_VERSION a proxy of the pinned release line reports: the stamped
// line with patch 0, or the module version when nothing was stamped.
func pinnedIstioVersion() string {
	if istioLine != "" {
		if strings.Count(istioLine, ".") == 1 {
			return istioLine + ".0"
		}
		return istioLine
	}
	return istioModuleVersion()
}

func istioModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "istio.io/istio" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// generate validates the configs as istiod's admission webhook would, then builds the listeners
// and clusters istiod would push to the proxy, with istiod's mesh config meshYAML ("" for
// Istio's defaults).
func generate(p proxyOptions, meshYAML string, configYAML string) (*report, error) {
	m, err := mesh.ApplyMeshConfigDefaults(meshYAML)
	if err != nil {
		return nil, fmt.Errorf("-mesh-config: %w", err)
	}
	warnings, err := validate(configYAML)
	if err != nil {
		return nil, err
	}
	rep := &report{istioModule: istioModuleVersion(), proxy: p, warnings: warnings}
	err = test.Wrap(func(t test.Failer) {
		s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{ConfigString: configYAML, MeshConfig: m})
		proxy := s.SetupProxy(newProxy(p))
		rep.listeners = s.Listeners(proxy)
		rep.clusters = s.Clusters(proxy)
	})
	if err != nil {
		return nil, fmt.Errorf("xDS generation: %w", err)
	}
	sort.Slice(rep.listeners, func(i, j int) bool { return rep.listeners[i].Name < rep.listeners[j].Name })
	sort.Slice(rep.clusters, func(i, j int) bool { return rep.clusters[i].Name < rep.clusters[j].Name })
	return rep, nil
}

// validate runs Istio's schema validation on every document of a kind Istio knows and returns the
// warnings; an invalid document is an error, as kubectl apply would report it.
func validate(configYAML string) ([]string, error) {
	configs, _, err := crd.ParseInputs(configYAML)
	if err != nil {
		return nil, err
	}
	var warnings []string
	for _, c := range configs {
		s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(c.GroupVersionKind)
		if !ok {
			continue
		}
		w, err := s.ValidateConfig(c)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", c.GroupVersionKind.Kind, c.Namespace, c.Name, err)
		}
		if w != nil {
			warnings = append(warnings, fmt.Sprintf("%s %s/%s: %v", c.GroupVersionKind.Kind, c.Namespace, c.Name, w))
		}
	}
	return warnings, nil
}

// newProxy is the model.Proxy istiod would build from the proxy's bootstrap node metadata.
func newProxy(p proxyOptions) *model.Proxy {
	typ := model.SidecarProxy
	id := "workload"
	if p.kind == "gateway" {
		typ = model.Router
		id = "gateway"
	}
	return &model.Proxy{
		Type:            typ,
		ID:              id + "." + p.namespace,
		ConfigNamespace: p.namespace,
		IPAddresses:     []string{p.ip},
		Labels:          p.labels,
		Metadata: &model.NodeMetadata{
			IstioVersion: p.istioVersion,
			Namespace:    p.namespace,
			Labels:       p.labels,
		},
	}
}
