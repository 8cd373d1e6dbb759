package main

import (
	"context"
	"testing"
)

// checkComposeCopy copies the compose file and what it mounts and builds,
// applies ms and checks the copy.
func checkComposeCopy(t *testing.T, ms ...mutation) []Problem {
	t.Helper()
	root := copyFromRepo(t, composeFile, dockerfile, "deploy/examples")
	for _, m := range ms {
		m.apply(t, root)
	}
	f := &findings{}
	checkCompose(context.Background(), f, root, composeFile)
	return f.problems
}

// TestComposeRejects breaks the real compose file (or a config it mounts)
// one way at a time: compose-spec schema errors found by compose-go, and
// the cross-checks with fluxo's configs.
func TestComposeRejects(t *testing.T) {
	const shop, inventory = "deploy/examples/shop.yaml", "deploy/examples/inventory.yaml"
	cases := []struct {
		name string
		m    mutation
		want string
	}{
		// compose-spec schema and consistency, as docker compose checks them.
		{"unknown key", mutation{composeFile, "  minio-init:\n    image:", "  minio-init:\n    imag:"}, "additional properties 'imag' not allowed"},
		{"wrong type", mutation{composeFile, "  cap_drop: [ALL]", "  cap_drop: ALL"}, "cap_drop must be a array"},
		{"not a number", mutation{composeFile, "      retries: 30\n      start_period: 30s", "      retries: thirty\n      start_period: 30s"}, `services.mysql.healthcheck.retries: failed to cast to expected type: strconv.Atoi: parsing "thirty"`},
		{"bad duration", mutation{composeFile, "  fluxo-fullload:\n", "  fluxo-fullload:\n    stop_grace_period: soon\n"}, `invalid duration "soon"`},
		{"duplicate key", mutation{composeFile, "      MINIO_ROOT_USER: fluxo\n", "      MINIO_ROOT_USER: fluxo\n      MINIO_ROOT_USER: admin\n"}, `mapping key "MINIO_ROOT_USER" already defined`},
		{"undefined dependency", mutation{composeFile, "      minio-init: {condition: service_completed_successfully}\n    environment:\n      FLUXO_DB_PASSWORD: fluxo-secret", "      minio-inet: {condition: service_completed_successfully}\n    environment:\n      FLUXO_DB_PASSWORD: fluxo-secret"}, `depends on undefined service "minio-inet"`},
		// Images, files and dependencies.
		{"unpinned image", mutation{composeFile, "image: mysql:8.4.3", "image: mysql"}, `image "mysql" has no tag`},
		{"latest image", mutation{composeFile, "apache/kafka:3.9.0", "apache/kafka:latest"}, "moving tag latest"},
		{"missing bind source", mutation{composeFile, "./deploy/examples/inventory.yaml", "./deploy/examples/inventori.yaml"}, "deploy/examples/inventori.yaml does not exist"},
		{"healthy without healthcheck", mutation{composeFile, `      test: ["CMD", "mc", "ready", "local"]`, `      disable: true`}, "condition service_healthy, but minio has no healthcheck"},
		{"port published twice", mutation{composeFile, `"9188:9187"`, `"9187:9187"`}, "host port 9187 is also published by service fluxo-inventory"},
		// fluxo services: command line, config and what the config needs.
		{"fluxo healthcheck", mutation{composeFile, "    restart: \"no\"\n\n  fluxo-shop:\n", "    restart: \"no\"\n\n  fluxo-shop:\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:9187/readyz\"]\n"}, "distroless"},
		{"writable root", mutation{composeFile, "  read_only: true\n", ""}, "read_only: true and cap_drop: [ALL]"},
		{"unknown fluxo command", mutation{composeFile, `command: ["fullload",`, `command: ["full-load",`}, `unknown fluxo command "full-load"`},
		{"fullload without run id", mutation{composeFile, `"--run-id", "compose-1", `, ""}, "fluxo fullload needs a fixed --run-id"},
		{"config not mounted", mutation{composeFile, "./deploy/examples/inventory.yaml:/etc/fluxo/fluxo.yaml:ro", "./deploy/examples/inventory.yaml:/etc/fluxo/inventory.yaml:ro"}, "-c /etc/fluxo/fluxo.yaml: no file is bind-mounted there"},
		{"password not passed", mutation{composeFile, "    environment:\n      FLUXO_DB_PASSWORD: fluxo-secret\n    ports:\n      - \"9188:9187\"", "    ports:\n      - \"9188:9187\""}, "environment variable FLUXO_DB_PASSWORD is not set"},
		{"no S3 credentials", mutation{composeFile, "      AWS_SECRET_ACCESS_KEY: fluxo-secret\n    volumes:\n      - ./deploy/examples/shop.yaml:/etc/fluxo/fluxo.yaml:ro\n    restart: \"no\"", "    volumes:\n      - ./deploy/examples/shop.yaml:/etc/fluxo/fluxo.yaml:ro\n    restart: \"no\""}, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"sink without S3 credentials", mutation{composeFile, "      AWS_SECRET_ACCESS_KEY: fluxo-secret\n    ports:", "    ports:"}, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"sink published port differs", mutation{composeFile, `"9189:9187"`, `"9189:9189"`}, "ports: 9189:9189, but http.listen serves 9187"},
		{"sink without its store", mutation{composeFile, "      schema-registry: {condition: service_healthy}\n      minio: {condition: service_healthy}\n", "      schema-registry: {condition: service_healthy}\n"}, "bronze.url endpoint names minio: add it to depends_on"},
		{"unknown config key", mutation{inventory, "  tables: [public.*]", "  table: [public.*]"}, `unknown key "table"`},
		{"host not a service", mutation{inventory, "@postgres:5432/", "@postgresql:5432/"}, "source.dsn names host postgresql, which is not a service"},
		{"registry not a service", mutation{shop, "http://schema-registry:8081", "http://registry:8081"}, "schema_registry.url names host registry"},
		{"dependency missing", mutation{composeFile, "      postgres: {condition: service_healthy}\n      kafka: {condition: service_healthy}\n      schema-registry: {condition: service_healthy}\n", "      postgres: {condition: service_healthy}\n      kafka: {condition: service_healthy}\n"}, "schema_registry.url names schema-registry: add it to depends_on"},
		{"dependency not healthy", mutation{composeFile, "      mysql: {condition: service_healthy}\n      kafka: {condition: service_healthy}\n", "      mysql: {condition: service_started}\n      kafka: {condition: service_healthy}\n"}, "depends_on mysql: use condition service_healthy"},
		{"loopback listen", mutation{shop, `listen: ":9187"`, "listen: 127.0.0.1:9187"}, "accepts connections from inside the container only"},
		{"published port differs", mutation{composeFile, `"9188:9187"`, `"9188:9188"`}, "ports: 9188:9188, but http.listen serves 9187"},
		{"checkpoint not on a volume", mutation{composeFile, "inventory.yaml:/etc/fluxo/fluxo.yaml:ro\n      - /var/lib/fluxo\n", "inventory.yaml:/etc/fluxo/fluxo.yaml:ro\n"}, "no volume is mounted at /var/lib/fluxo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, checkComposeCopy(t, tc.m), tc.want)
		})
	}
}
