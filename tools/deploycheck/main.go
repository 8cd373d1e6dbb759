// Command deploycheck validates fluxo's deployment artifacts without a
// cluster, a Docker engine or the network: the Kubernetes manifests of
// deploy/kubernetes (strictly decoded into the official k8s.io/api types,
// then cross-checked), docker-compose.yml (loaded and validated against the
// compose-spec schema by compose-go, as docker compose does), the
// Dockerfile (parsed and linted by BuildKit's own parser), the systemd unit,
// and every fluxo config they carry, loaded with fluxo's own config
// package. It prints one line per problem and exits 1 if there is any.
//
//	go run . -root ../..
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the flags, checks the repository and reports.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("deploycheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "../..", "the fluxo repository")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res := checkRepository(context.Background(), *root)
	for _, p := range res.Problems {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintln(stdout, res.Summary())
	if len(res.Problems) > 0 {
		return 1
	}
	return 0
}
