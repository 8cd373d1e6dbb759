package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// configTemplate is the demo's fluxo.yaml. Its verbs are, in order: the
// MariaDB address, the Kafka brokers, the registry URL, the checkpoint
// path and the bronze directory. The password stays a ${VAR} reference, as it would in production.
const configTemplate = `# fluxo.yaml: one file per source database (see SPEC.md section 2).
name: shop
source:
  dsn: mysql://fluxo:${FLUXO_DB_PASSWORD}@%s/shop
  tables: [shop.customers, shop.orders]
  server_id: 5401             # unique per fluxo process reading this server
kafka:
  brokers: [%s]
  topic_prefix: shop          # topics: shop.<database>.<table>
  tombstones: true            # a null-valued record after each delete
schema_registry:
  url: %s
checkpoint:
  store: file
  path: %s
snapshot:
  mode: initial               # stream at once; snapshot the tables incrementally meanwhile
http:
  listen: 127.0.0.1:0         # /metrics, /healthz, /readyz (default 127.0.0.1:9187; 0: a free port)
bronze:
  url: file://%s              # fluxo fullload's target (fluxo check probes it)
`

// writeConfig writes the demo's config to dir, prints it and loads it the
// way `fluxo stream -c` does, with FLUXO_DB_PASSWORD supplied by the demo.
func writeConfig(dir string, s *servers, out io.Writer) (*config.Config, error) {
	yaml := fmt.Sprintf(configTemplate, s.db.Addr(), strings.Join(s.brokers, ", "),
		s.registryURL, filepath.Join(dir, "shop.checkpoint"), filepath.Join(dir, "bronze"))
	path := filepath.Join(dir, "fluxo.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "    %s\n\n", path)
	for line := range strings.Lines(yaml) {
		fmt.Fprintf(out, "    | %s", line)
	}
	cfg, err := config.Load(path, demoEnv)
	if err != nil {
		return nil, fmt.Errorf("load the demo config: %w", err)
	}
	return cfg, nil
}

// demoEnv is the environment the config is expanded with: the process
// environment plus the demo database's password.
func demoEnv(name string) (string, bool) {
	if name == passwordVar {
		return demoPassword, true
	}
	return os.LookupEnv(name)
}
