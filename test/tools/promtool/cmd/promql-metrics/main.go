// promql-metrics reads a JSON array of PromQL expressions on stdin and prints, as JSON, the metric
// names each one selects, parsed by Prometheus's own PromQL parser (the one promtool and the
// Prometheus server use), so test/helm-monitoring.test.ts can compare the dashboard's queries and the
// alert rules with what hookwise exports. An expression that does not parse is an error (exit 1).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintf(os.Stderr, "stdin is not a JSON array of strings: %v\n", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := make([]result, 0, len(exprs))
	for _, e := range exprs {
		ast, err := p.ParseExpr(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%q: %v\n", e, err)
			os.Exit(1)
		}
		names := map[string]bool{}
		parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			if vs.Name != "" {
				names[vs.Name] = true
			}
			for _, m := range vs.LabelMatchers {
				// {__name__="x"} names a metric too; a regular expression on __name__ would name any.
				if m.Name != labels.MetricName {
					continue
				}
				if m.Type != labels.MatchEqual {
					fmt.Fprintf(os.Stderr, "%q: selects metric names by %s, which cannot be checked\n", e, m.Type)
					os.Exit(1)
				}
				names[m.Value] = true
			}
			return nil
		})
		r := result{Expr: e, Metrics: []string{}}
		for n := range names {
			r.Metrics = append(r.Metrics, n)
		}
		sort.Strings(r.Metrics)
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
