package main

import (
	"encoding/json"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// protoJSON keeps Envoy's snake_case field names, as in the EnvoyFilter and in Envoy's docs, so a
// test can compare a generated filter with the chart's patch value field by field.
var protoJSON = protojson.MarshalOptions{UseProtoNames: true}

type jsonProxy struct {
	Kind         string            `json:"kind"`
	Namespace    string            `json:"namespace"`
	Labels       map[string]string `json:"labels"`
	IP           string            `json:"ip"`
	IstioVersion string            `json:"istioVersion"`
}

type jsonReport struct {
	IstioVersion string            `json:"istioVersion"`
	IstioModule  string            `json:"istioModule"`
	Proxy        jsonProxy         `json:"proxy"`
	Warnings     []string          `json:"warnings"`
	Listeners    []json.RawMessage `json:"listeners"`
	Clusters     []json.RawMessage `json:"clusters"`
}

func writeReport(w io.Writer, rep *report, pretty bool) error {
	out := jsonReport{
		IstioVersion: pinnedIstioVersion(),
		IstioModule:  rep.istioModule,
		Proxy: jsonProxy{
			Kind:         rep.proxy.kind,
			Namespace:    rep.proxy.namespace,
			Labels:       rep.proxy.labels,
			IP:           rep.proxy.ip,
			IstioVersion: rep.proxy.istioVersion,
		},
		Warnings:  append([]string{}, rep.warnings...),
		Listeners: []json.RawMessage{},
		Clusters:  []json.RawMessage{},
	}
	for _, l := range rep.listeners {
		b, err := marshal(l)
		if err != nil {
			return err
		}
		out.Listeners = append(out.Listeners, b)
	}
	for _, c := range rep.clusters {
		b, err := marshal(c)
		if err != nil {
			return err
		}
		out.Clusters = append(out.Clusters, b)
	}
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(out)
}

func marshal(m proto.Message) (json.RawMessage, error) {
	b, err := protoJSON.Marshal(m)
	return json.RawMessage(b), err
}
