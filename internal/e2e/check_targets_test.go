package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestCheckKafka: an unreachable broker, bad SASL credentials and a
// principal without the Create ACL each give a FAIL line that says what
// to fix; granting the ACL makes the check pass.
func TestCheckKafka(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	t.Run("unreachable", func(t *testing.T) {
		cfg := e.checkConfig()
		cfg.Kafka.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", testserver.ClosedPort(t))}
		start := time.Now()
		r := runCheck(t, cfg)
		if d := time.Since(start); d > command.CheckTimeout {
			t.Errorf("took %s", d)
		}
		r.want("kafka.connect", cdc.CheckFail, cfg.Kafka.Brokers[0], "check kafka.brokers")
		r.want("kafka.topics", cdc.CheckSkip)
		r.allOK("kafka.connect", "kafka.topics")
	})
	t.Run("not configured", func(t *testing.T) {
		cfg := e.checkConfig()
		cfg.Kafka.Brokers, cfg.SchemaRegistry.URL = nil, ""
		r := runCheck(t, cfg)
		r.want("config", cdc.CheckFail, "kafka.brokers is required", "schema_registry.url is required")
		r.want("kafka.connect", cdc.CheckSkip, "needs kafka.brokers")
		r.want("registry.connect", cdc.CheckSkip, "needs schema_registry.url")
		r.allOK("config", "kafka.connect", "kafka.topics", "registry.connect")
	})
	_, brokers := testserver.KafkaT(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("PLAIN", "fluxo", "sekret-kafka",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "fx.", Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: kmsg.ACLOperationWrite, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "fx.", Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: kmsg.ACLOperationDescribe, Allow: true}))
	withSASL := func(password string) *config.Config {
		cfg := e.checkConfig()
		cfg.Kafka.Brokers = brokers
		cfg.Kafka.SASL = &config.SASL{Mechanism: "plain", Username: "fluxo", Password: password}
		return cfg
	}
	t.Run("wrong password", func(t *testing.T) {
		cfg := withSASL("sekret-wrong")
		r := runCheck(t, cfg)
		r.want("kafka.connect", cdc.CheckFail, "kafka.sasl")
		r.hidden("sekret-wrong")
	})
	t.Run("no Create ACL", func(t *testing.T) {
		cfg := withSASL("sekret-kafka")
		r := runCheck(t, cfg)
		r.hidden("sekret-kafka")
		r.want("kafka.connect", cdc.CheckOK, "SASL plain as fluxo")
		r.want("kafka.topics", cdc.CheckFail, "fx."+e.dbName+".t1", "TOPIC_AUTHORIZATION_FAILED",
			"kafka-acls.sh --bootstrap-server "+brokers[0]+" --add --allow-principal User:fluxo --operation Create --topic fx. --resource-pattern-type prefixed")
		grantCreate(t, brokers, "fluxo", "fx.")
		// fluxo sink's group: refused until the principal may describe it.
		runCheck(t, cfg).want("sink.group", cdc.CheckWarn, "GROUP_AUTHORIZATION_FAILED",
			"--allow-principal User:fluxo --operation Read --operation Describe --group fluxo-sink-t")
		grantResourceACL(t, brokers, "fluxo", kmsg.ACLResourceTypeGroup, "fluxo-sink-", kmsg.ACLOperationDescribe)
		runCheck(t, cfg).allOK()
	})
}

// TestCheckKafkaWrite: topics that exist but that the principal may not
// write to are a FAIL; granting Write passes.
func TestCheckKafkaWrite(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	topic := "fx." + e.dbName + ".t1"
	_, brokers := testserver.KafkaT(t, kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.SeedTopics(1, topic),
		kfake.User("PLAIN", "ro", "pw",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "fx.", Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: kmsg.ACLOperationDescribe, Allow: true}))
	cfg := e.checkConfig()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.SASL = &config.SASL{Mechanism: "plain", Username: "ro", Password: "pw"}
	runCheck(t, cfg).want("kafka.topics", cdc.CheckFail, "no Write permission on "+topic, "--allow-principal User:ro --operation Describe --operation Write")
	grantACL(t, brokers, "ro", "fx.", kmsg.ACLOperationWrite)
	runCheck(t, cfg).want("kafka.topics", cdc.CheckOK, "all 1 topic(s) exist and are writable")
}

// grantCreate runs, as the superuser, what the printed kafka-acls command
// does: allow principal to create topics under prefix.
func grantCreate(t *testing.T, brokers []string, user, prefix string) {
	t.Helper()
	grantACL(t, brokers, user, prefix, kmsg.ACLOperationCreate)
}

// grantACL allows user op on the topics starting with prefix.
func grantACL(t *testing.T, brokers []string, user, prefix string, op kmsg.ACLOperation) {
	t.Helper()
	grantResourceACL(t, brokers, user, kmsg.ACLResourceTypeTopic, prefix, op)
}

// grantResourceACL allows user op on the resources of a type starting with
// prefix.
func grantResourceACL(t *testing.T, brokers []string, user string, typ kmsg.ACLResourceType, prefix string, op kmsg.ACLOperation) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-pw"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = typ, prefix, kmsg.ACLResourcePatternTypePrefixed
	c.Principal, c.Host, c.Operation, c.PermissionType = "User:"+user, "*", op, kmsg.ACLPermissionTypeAllow
	req.Creations = append(req.Creations, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("create ACL: %v %+v", err, resp)
	}
}

// TestCheckRegistry: a registry that answers 500, one that is not there
// and wrong credentials each give a FAIL line; fixing them passes.
func TestCheckRegistry(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	t.Run("500", func(t *testing.T) {
		reg, url := testserver.RegistryT(t)
		cfg := e.checkConfig()
		cfg.SchemaRegistry.URL = url
		reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		})
		r := runCheck(t, cfg)
		r.want("registry.connect", cdc.CheckFail, "HTTP 500", "boom", "check its logs")
		r.allOK("registry.connect")
		reg.ClearInterceptors()
		runCheck(t, cfg).allOK()
	})
	t.Run("closed port", func(t *testing.T) {
		cfg := e.checkConfig()
		cfg.SchemaRegistry.URL = fmt.Sprintf("http://127.0.0.1:%d", testserver.ClosedPort(t))
		runCheck(t, cfg).want("registry.connect", cdc.CheckFail, "unreachable", "check schema_registry.url")
	})
	t.Run("credentials", func(t *testing.T) {
		_, url := testserver.RegistryT(t, srfake.WithAuth("Basic "+base64.StdEncoding.EncodeToString([]byte("fluxo:sekret-reg"))))
		cfg := e.checkConfig()
		cfg.SchemaRegistry.URL, cfg.SchemaRegistry.Username, cfg.SchemaRegistry.Password = url, "fluxo", "sekret-wrong"
		r := runCheck(t, cfg)
		r.want("registry.connect", cdc.CheckFail, "HTTP 403", "schema_registry.username and password")
		r.hidden("sekret-wrong")
		cfg.SchemaRegistry.Password = "sekret-reg"
		r = runCheck(t, cfg)
		r.want("registry.connect", cdc.CheckOK, "as fluxo")
		r.hidden("sekret-reg")
	})
}

// TestCheckFiles: a checkpoint or bronze directory that cannot be created
// (a file is in the way; permissions do not stop root) is reported; the
// bronze target only as a warning, since fluxo stream does not use it.
func TestCheckFiles(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE t1 (id INT PRIMARY KEY)")
	blocker := filepath.Join(e.dir, "blocker")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("bronze:\n  url: file://" + filepath.Join(blocker, "bronze") + "\n")
	cfg.Checkpoint.Path = filepath.Join(blocker, "state", "t.checkpoint")
	r := runCheck(t, cfg)
	r.want("checkpoint.writable", cdc.CheckFail, blocker+" is not a directory", "remove or rename "+blocker)
	r.want("bronze.writable", cdc.CheckWarn, "fluxo fullload cannot write", "only fluxo fullload needs it")
	r.want("checkpoint", cdc.CheckFail, "not a directory") // fluxo stream could not read it either
	r.allOK("checkpoint", "checkpoint.writable", "bronze.writable")
	if err := os.Remove(blocker); err != nil { // the fix
		t.Fatal(err)
	}
	r = runCheck(t, cfg)
	r.allOK()
	r.want("checkpoint.writable", cdc.CheckOK, "does not exist yet")
	if _, err := os.Stat(filepath.Dir(cfg.Checkpoint.Path)); !os.IsNotExist(err) {
		t.Errorf("fluxo check created the checkpoint directory: %v", err)
	}
	t.Run("unwritable as non-root", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		dir := filepath.Join(e.dir, "ro")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		c := *cfg
		c.Checkpoint.Path = filepath.Join(dir, "t.checkpoint")
		runCheck(t, &c).want("checkpoint.writable", cdc.CheckFail, "cannot create files in "+dir, "write access")
	})
}

// TestCheckSilentServers points the source, Kafka and the registry at a
// port that accepts connections and never answers: each must give a FAIL
// line once its time is up, not hang.
func TestCheckSilentServers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []net.Conn)
	go func() {
		var held []net.Conn // open and silent until the test ends
		for {
			c, err := ln.Accept()
			if err != nil {
				done <- held
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		ln.Close()
		for _, c := range <-done {
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	for _, dsn := range []string{"mysql://fluxo:pw@" + addr + "/shop", "postgres://fluxo:pw@" + addr + "/shop?sslmode=disable"} {
		t.Run(dsn[:5], func(t *testing.T) {
			dir := t.TempDir()
			y := fmt.Sprintf("name: t\nsource:\n  dsn: %s\nkafka:\n  brokers: [%s]\nschema_registry:\n  url: http://%s\ncheckpoint:\n  path: %s\n",
				dsn, addr, addr, filepath.Join(dir, "t.checkpoint"))
			cfg, err := config.Parse("t.yaml", []byte(y), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			lines := command.RunChecks(context.Background(), cfg, time.Second)
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %s with a 1s timeout per group", d)
			}
			var b strings.Builder
			command.PrintChecks(&b, lines)
			t.Logf("fluxo check:\n%s", b.String())
			r := checkRun{t: t, lines: lines, out: b.String()}
			r.want("source.connect", cdc.CheckFail, "did not answer in time")
			r.want("kafka.connect", cdc.CheckFail, "no answer within 1s")
			r.want("registry.connect", cdc.CheckFail, "no answer within 1s")
			r.hidden(":pw@")
		})
	}
}
