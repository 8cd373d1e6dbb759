package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkKubeCopy copies deploy/kubernetes, applies ms and checks the copy.
func checkKubeCopy(t *testing.T, ms ...mutation) []Problem {
	t.Helper()
	root := copyFromRepo(t, kubeDir)
	for _, m := range ms {
		m.File = filepath.Join(kubeDir, m.File)
		m.apply(t, root)
	}
	f := &findings{}
	checkKube(f, filepath.Join(root, kubeDir), kubeDir)
	return f.problems
}

// TestKubeRejects breaks the real manifests one way at a time and expects
// the named problem: schema errors from the strict decoding into the
// k8s.io/api types, and the cross-checks the types cannot express.
func TestKubeRejects(t *testing.T) {
	const deploy, job, sidecar, secret, kust = "deployment.yaml", "fullload-job.yaml", "sidecar-postgres.yaml", "secret.yaml", "kustomization.yaml"
	const sink = "sink-deployment.yaml"
	cases := []struct {
		name string
		m    mutation
		want string
	}{
		// Schema: what the API server's strict field validation rejects.
		{"unknown field", mutation{deploy, "imagePullPolicy: IfNotPresent", "imagePullPolicyy: IfNotPresent"}, `unknown field "spec.template.spec.containers[0].imagePullPolicyy"`},
		{"field name case", mutation{deploy, "containerPort: 9187", "containerport: 9187"}, `unknown field "spec.template.spec.containers[0].ports[0].containerport"`},
		{"wrong type", mutation{deploy, "  replicas: 1\n  strategy", "  replicas: \"1\"\n  strategy"}, "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"},
		{"bad quantity", mutation{deploy, "memory: 512Mi", "memory: 512MB"}, "quantities must match the regular expression"},
		{"duplicate key", mutation{deploy, "  replicas: 1\n", "  replicas: 1\n  replicas: 2\n"}, `"replicas" already set in map`},
		{"unknown kind", mutation{secret, "kind: Secret", "kind: Secrets"}, `kind "Secrets" is not one deploycheck validates`},
		{"old apiVersion", mutation{deploy, "apiVersion: apps/v1", "apiVersion: extensions/v1beta1"}, `apiVersion "extensions/v1beta1" kind "Deployment" is not one`},
		{"invalid name", mutation{deploy, "name: fluxo-shop-state\n  labels", "name: Fluxo_State\n  labels"}, "metadata.name: a lowercase RFC 1123 subdomain"},
		// Containers, references and the Pod Security Standard.
		{"missing image", mutation{deploy, "          image: ghcr.io/fluxo-cdc/fluxo:0.1.0\n", ""}, "container fluxo: has no image"},
		{"unpinned image", mutation{deploy, "ghcr.io/fluxo-cdc/fluxo:0.1.0", "ghcr.io/fluxo-cdc/fluxo"}, `image "ghcr.io/fluxo-cdc/fluxo" has no tag`},
		{"latest image", mutation{sidecar, "postgres:15.10", "postgres:latest"}, "moving tag latest"},
		{"missing ConfigMap", mutation{deploy, "configMap:\n            name: fluxo-shop", "configMap:\n            name: fluxo-shopp"}, `ConfigMap "fluxo-shopp": no such ConfigMap`},
		{"missing Secret key", mutation{deploy, "key: shop-fluxo-password", "key: shop-password"}, `Secret "fluxo-secrets" has no key "shop-password"`},
		{"missing claim", mutation{deploy, "claimName: fluxo-shop-state", "claimName: fluxo-state"}, `persistentVolumeClaim "fluxo-state": no such PersistentVolumeClaim`},
		{"unused claim", mutation{deploy, "claimName: fluxo-shop-state", "claimName: fluxo-state"}, "PersistentVolumeClaim/fluxo-shop-state: not used by any workload"},
		{"mount without volume", mutation{sidecar, "- name: fluxo-state\n              mountPath", "- name: fluxo-data\n              mountPath"}, `volumeMount "fluxo-data": no such volume`},
		{"hostPath volume", mutation{sidecar, "- name: pg-tmp\n          emptyDir: {}", "- name: pg-tmp\n          hostPath: {path: /tmp}"}, "hostPath volumes are not allowed"},
		{"requests missing", mutation{deploy, "              cpu: 100m\n", ""}, "resources.requests.cpu is not set"},
		{"request above limit", mutation{deploy, "memory: 128Mi", "memory: 1Gi"}, "resources.requests.memory 1Gi is above its limit 512Mi"},
		{"writable root", mutation{deploy, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"}, "readOnlyRootFilesystem must be true"},
		{"capabilities kept", mutation{deploy, "drop: [ALL]", "drop: [NET_RAW]"}, "capabilities.drop must contain ALL"},
		{"root allowed", mutation{deploy, "runAsNonRoot: true", "runAsNonRoot: false"}, "runAsNonRoot must be true"},
		{"privilege escalation", mutation{job, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"}, "allowPrivilegeEscalation must be false"},
		{"no seccomp", mutation{deploy, "type: RuntimeDefault", "type: Unconfined"}, "seccompProfile.type must be RuntimeDefault"},
		{"token mounted", mutation{deploy, "automountServiceAccountToken: false", "automountServiceAccountToken: true"}, "automountServiceAccountToken must be false"},
		// Probes and metrics.
		{"liveness path", mutation{deploy, "path: /healthz", "path: /health"}, `livenessProbe.httpGet.path is "/health"; fluxo serves this at /healthz`},
		{"readiness path", mutation{deploy, "path: /readyz", "path: /healthz"}, `readinessProbe.httpGet.path is "/healthz"; fluxo serves this at /readyz`},
		{"probe port not declared", mutation{deploy, "path: /healthz\n              port: metrics", "path: /healthz\n              port: http"}, "livenessProbe: httpGet.port: http is not a port of container fluxo"},
		{"no readiness", mutation{deploy, "          readinessProbe:\n            httpGet:\n              path: /readyz\n", "          startupProbe:\n            httpGet:\n              path: /healthz\n"}, "readinessProbe: missing"},
		{"no liveness", mutation{sidecar, "          livenessProbe:\n            httpGet:", "          readinessProbe:\n            httpGet:"}, "livenessProbe: missing; fluxo serves /healthz on port 9187"},
		{"metrics port differs", mutation{deploy, "containerPort: 9187", "containerPort: 9090"}, "port metrics is 9090, but http.listen serves 9187"},
		{"scrape annotation", mutation{deploy, `prometheus.io/port: "9187"`, `prometheus.io/port: "9090"`}, `want prometheus.io/scrape: "true" and prometheus.io/port: "9187"`},
		{"short grace period", mutation{deploy, "terminationGracePeriodSeconds: 120", "terminationGracePeriodSeconds: 10"}, "terminationGracePeriodSeconds must be at least 60"},
		// Workload shape.
		{"two replicas", mutation{deploy, "  replicas: 1\n  strategy", "  replicas: 2\n  strategy"}, "spec.replicas must be 1"},
		{"sink without replicas", mutation{sink, "  replicas: 2\n", "  replicas: 0\n"}, "spec.replicas: at least 1 sink"},
		{"sink of a stream's kind", mutation{sink, "args: [sink,", "args: [fullload,"}, "this workload should run fluxo stream or sink"},
		{"sink config rejected", mutation{deploy, "      instance_id: ${HOSTNAME}\n", "      instance_id: ${HOSTNAME}\n      session_timeout: 1s\n"}, "sink.session_timeout must be between 6s and 5m"},
		{"sink without probes", mutation{sink, "          readinessProbe:\n            httpGet:\n              path: /readyz", "          readinessProbe:\n            httpGet:\n              path: /ready"}, "readinessProbe"},
		{"rolling update", mutation{deploy, "type: Recreate", "type: RollingUpdate"}, "spec.strategy.type must be Recreate"},
		{"selector mismatch", mutation{deploy, "matchLabels:\n      app.kubernetes.io/name: fluxo-shop", "matchLabels:\n      app.kubernetes.io/name: fluxo-shopx"}, "does not match the pod template's labels"},
		{"statefulset service", mutation{sidecar, "serviceName: orders-db", "serviceName: orders"}, `spec.serviceName "orders": no such Service`},
		{"service target port", mutation{sidecar, "targetPort: postgres", "targetPort: pg"}, "targetPort pg is not a container port"},
		{"job restart policy", mutation{job, "restartPolicy: Never", "restartPolicy: Always"}, "restartPolicy must be Never or OnFailure"},
		{"job backoff", mutation{job, "  backoffLimit: 4\n", ""}, "spec.backoffLimit: set it"},
		{"job without run id", mutation{job, "            - --run-id\n            - shop-initial-2026-11\n", ""}, "fluxo fullload needs a fixed --run-id"},
		{"job streams", mutation{job, "            - fullload\n", "            - stream\n"}, "runs fluxo stream; this workload should run fluxo fullload"},
		{"job probe", mutation{job, "          resources:", "          livenessProbe:\n            httpGet: {path: /healthz, port: 9187}\n          resources:"}, "livenessProbe: fluxo fullload serves no HTTP endpoint"},
		// The fluxo command line and config, loaded by fluxo's config package.
		{"unknown command", mutation{deploy, "args: [stream,", "args: [strem,"}, `unknown fluxo command "strem"`},
		{"unknown flag", mutation{deploy, "--log-format, json", "--log-fmt, json"}, "flag provided but not defined: -log-fmt"},
		{"config not mounted", mutation{deploy, "args: [stream, -c, /etc/fluxo/fluxo.yaml", "args: [stream, -c, /config/fluxo.yaml"}, "no volume is mounted at /config"},
		{"config key missing", mutation{deploy, "args: [stream, -c, /etc/fluxo/fluxo.yaml", "args: [stream, -c, /etc/fluxo/shop.yaml"}, `ConfigMap fluxo-shop has no key "shop.yaml"`},
		{"unknown config key", mutation{deploy, "      server_id: 5401", "      serverid: 5401"}, `unknown key "serverid"`},
		{"config variable unset", mutation{deploy, "${FLUXO_DB_PASSWORD}", "${SHOP_DB_PASSWORD}"}, "environment variable SHOP_DB_PASSWORD is not set"},
		{"stream needs brokers", mutation{deploy, "      brokers: [kafka-bootstrap.kafka.svc.cluster.local:9092]\n", ""}, "kafka.brokers is required by fluxo stream"},
		{"fullload default bronze", mutation{deploy, "      url: s3://fluxo-bronze/shop?region=eu-west-1\n", ""}, "fluxo's bronze store opens absolute file URLs only"},
		{"loopback listen", mutation{deploy, `listen: ":9187"`, "listen: 127.0.0.1:9187"}, "accepts connections from inside the container only"},
		{"checkpoint off volumes", mutation{deploy, "path: /var/lib/fluxo/shop.checkpoint", "path: /data/shop.checkpoint"}, "nothing is mounted at /data"},
		{"checkpoint on emptyDir", mutation{deploy, "path: /var/lib/fluxo/shop.checkpoint", "path: /tmp/shop.checkpoint"}, "volume tmp does not outlive the pod"},
		{"bronze off volumes", mutation{deploy, "url: s3://fluxo-bronze/shop?region=eu-west-1", "url: file:///data/bronze"}, "bronze.url file:///data/bronze: nothing is mounted at /data/bronze"},
		{"checkpoint read-only", mutation{deploy, "            - name: state\n              mountPath: /var/lib/fluxo\n", "            - name: state\n              mountPath: /var/lib/fluxo\n              readOnly: true\n"}, "volume state is mounted read-only"},
		{"sidecar port", mutation{sidecar, "127.0.0.1:5432/orders", "127.0.0.1:5433/orders"}, "no other container of the pod declares containerPort 5433"},
		// kustomization.yaml lists exactly the manifests.
		{"manifest not listed", mutation{kust, "  - fullload-job.yaml\n", ""}, "fullload-job.yaml is not listed"},
		{"listed file missing", mutation{kust, "- secret.yaml", "- secrets.yaml"}, `"secrets.yaml" is not a manifest file`},
		{"kustomization field", mutation{kust, "resources:", "resource:"}, `unknown field "resource"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, checkKubeCopy(t, tc.m), tc.want)
		})
	}
}

// TestKubeDuplicateObject defines an object twice across files.
func TestKubeDuplicateObject(t *testing.T) {
	last := "  bronze-secret-access-key: change-me-secret-key\n"
	problems := checkKubeCopy(t, mutation{"secret.yaml", last, last + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fluxo-shop\n"})
	wantProblem(t, problems, "ConfigMap/fluxo-shop: defined twice (also in deploy/kubernetes/secret.yaml)")
}

// TestKustomizeBuilds builds the directory with kubectl's embedded
// kustomize, when kubectl is installed, and expects every object.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot(t), kubeDir)).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	docs, err := splitYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	f := &findings{}
	set := loadKube(f, filepath.Join(repoRoot(t), kubeDir), kubeDir)
	if len(docs) != len(set.objects) {
		t.Errorf("kustomize built %d objects, the files hold %d", len(docs), len(set.objects))
	}
	for _, doc := range docs {
		if !strings.Contains(string(doc), "app.kubernetes.io/part-of: fluxo") {
			t.Errorf("object without the part-of label:\n%s", doc)
		}
	}
}
