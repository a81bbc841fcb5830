package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/roster-dev/roster/config"
)

// The deployment files in deploy/ are checked here, next to the binary
// they start: no container engine or Helm runs in the tests.

const deployDir = "../../deploy"

// checkArgs runs `roster CMD -h` and checks that every --flag of args is
// one of its flags.
func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("%s: no command", where)
	}
	out, _ := exec.Command(binary, args[0], "-h").CombinedOutput()
	if !strings.Contains(string(out), "Usage of "+args[0]) {
		t.Fatalf("%s: roster %s is not a command:\n%s", where, args[0], out)
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b`).Match(out) {
			t.Errorf("%s: roster %s has no flag --%s", where, args[0], name)
		}
	}
}

// checkConfig parses a configuration as `roster serve` would, with every
// ${VAR} set, and checks its protocol sections.
func checkConfig(t *testing.T, where string, doc []byte) *config.Config {
	t.Helper()
	lookup := func(k string) (string, bool) {
		switch k {
		case "ROSTER_DATABASE_URL":
			return "postgres://roster:x@postgres:5432/roster", true
		}
		return "a-sixteen-plus-character-secret", true
	}
	cfg, err := config.Parse(doc, lookup)
	if err != nil {
		t.Fatalf("%s: %v\n%s", where, err, doc)
	}
	if _, err := decodeSections(cfg); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return cfg
}

func readDeploy(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeployDockerfile(t *testing.T) {
	df := string(readDeploy(t, "Dockerfile"))
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got stages %v", stages)
	}
	final := stages[len(stages)-1][1]
	if !strings.Contains(final, "distroless") && final != "scratch" {
		t.Errorf("final stage %s is neither distroless nor scratch", final)
	}
	for _, want := range []string{"CGO_ENABLED=0", "EXPOSE 8080", "HEALTHCHECK"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(df)
	if user == nil || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("USER = %v, want a non-root user", user)
	}
	// The JSON-form instructions name real commands and flags.
	for instr, re := range map[string]string{
		"HEALTHCHECK": `(?m)^HEALTHCHECK[^\[\n]*(?:\\\n[^\[\n]*)*(\[.*\])`,
		"CMD":         `(?m)^CMD\s+(\[.*\])`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(df)
		if m == nil {
			t.Fatalf("no %s [...]", instr)
		}
		var args []string
		if err := yaml.Unmarshal([]byte(m[1]), &args); err != nil {
			t.Fatalf("%s %s: %v", instr, m[1], err)
		}
		if strings.HasSuffix(args[0], "/roster") {
			args = args[1:]
		}
		checkArgs(t, "Dockerfile "+instr, args)
		if instr == "HEALTHCHECK" && !strings.Contains(m[1], "/healthz") {
			t.Errorf("HEALTHCHECK does not ask /healthz: %s", m[1])
		}
	}
}

func TestDeployCompose(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			ReadOnly    bool              `yaml:"read_only"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(readDeploy(t, "compose.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"roster", "postgres", "openldap"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("compose has no service %s", s)
		}
	}
	r := c.Services["roster"]
	checkArgs(t, "compose roster.command", r.Command)
	if !r.ReadOnly {
		t.Error("roster does not run with a read-only root file system")
	}
	if len(r.Ports) != 1 || !strings.HasSuffix(r.Ports[0], ":8080") || !strings.HasPrefix(r.Ports[0], "127.0.0.1:") {
		t.Errorf("roster ports = %v, want 127.0.0.1:…:8080", r.Ports)
	}
	cfg := checkConfig(t, "compose/roster.yaml", readDeploy(t, "compose/roster.yaml"))
	if cfg.Store.Postgres == nil || !strings.HasSuffix(cfg.Listen, ":8080") {
		t.Errorf("compose config: store %s, listen %s", cfg.Store.Backend(), cfg.Listen)
	}
	if !strings.Contains(r.Environment["ROSTER_DATABASE_URL"], "@postgres:5432/") {
		t.Errorf("ROSTER_DATABASE_URL = %q does not name the postgres service", r.Environment["ROSTER_DATABASE_URL"])
	}
	ldif := string(readDeploy(t, "compose/people.ldif"))
	if n := strings.Count(ldif, "objectClass: inetOrgPerson"); n < 3 {
		t.Errorf("people.ldif seeds %d people", n)
	}
}

// helmFuncs are the Sprig functions the chart uses, as Helm defines them.
var helmFuncs = template.FuncMap{
	"quote": func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	},
}

// renderChart renders every template of the chart with values.yaml and
// the overrides, and returns the YAML documents by kind.
func renderChart(t *testing.T, set func(v map[string]any)) map[string]map[string]any {
	t.Helper()
	var values map[string]any
	if err := yaml.Unmarshal(readDeploy(t, "helm/roster/values.yaml"), &values); err != nil {
		t.Fatal(err)
	}
	set(values)
	files, err := filepath.Glob(filepath.Join(deployDir, "helm/roster/templates/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	docs := map[string]map[string]any{}
	for _, f := range files {
		tpl, err := template.New(filepath.Base(f)).Funcs(helmFuncs).Option("missingkey=error").ParseFiles(f)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		data := map[string]any{"Values": values, "Release": map[string]any{"Name": "test"}}
		if err := tpl.Execute(&out, data); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.TrimSpace(out.String()) == "" {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("%s renders invalid YAML: %v\n%s", f, err, out.String())
		}
		docs[doc["kind"].(string)] = doc
	}
	return docs
}

// dig walks a rendered document.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func TestDeployHelm(t *testing.T) {
	modes := []struct {
		name      string
		set       func(v map[string]any)
		replicas  int
		strategy  string
		want, not []string // kinds
	}{
		{"bbolt", func(map[string]any) {}, 1, "Recreate",
			[]string{"Deployment", "Service", "Secret", "ConfigMap", "PersistentVolumeClaim", "ServiceMonitor"}, []string{"PodDisruptionBudget"}},
		{"postgres", func(v map[string]any) {
			st := v["store"].(map[string]any)
			st["mode"] = "postgres"
			st["postgres"].(map[string]any)["dsn"] = "postgres://roster:x@db/roster"
		}, 3, "RollingUpdate",
			[]string{"Deployment", "Service", "Secret", "ConfigMap", "PodDisruptionBudget", "ServiceMonitor"}, []string{"PersistentVolumeClaim"}},
		{"postgres, manual migrations", func(v map[string]any) {
			st := v["store"].(map[string]any)
			st["mode"] = "postgres"
			st["postgres"].(map[string]any)["migrate"] = "manual"
		}, 3, "RollingUpdate", []string{"PodDisruptionBudget"}, nil},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			docs := renderChart(t, m.set)
			for _, k := range m.want {
				if docs[k] == nil {
					t.Errorf("no %s rendered", k)
				}
			}
			for _, k := range m.not {
				if docs[k] != nil {
					t.Errorf("%s rendered in %s mode", k, m.name)
				}
			}
			d := docs["Deployment"]
			if got := dig(d, "spec", "replicas"); got != m.replicas {
				t.Errorf("replicas = %v, want %d", got, m.replicas)
			}
			if got := dig(d, "spec", "strategy", "type"); got != m.strategy {
				t.Errorf("strategy = %v, want %s", got, m.strategy)
			}
			pod := dig(d, "spec", "template", "spec")
			c := dig(pod, "containers", 0)
			if got := dig(c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
				t.Errorf("readiness probe path = %v", got)
			}
			if got := dig(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
				t.Errorf("liveness probe path = %v", got)
			}
			if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(pod, "securityContext", "runAsNonRoot") != true {
				t.Error("the container may write its root file system or run as root")
			}
			var args []string
			for _, a := range dig(c, "args").([]any) {
				args = append(args, a.(string))
			}
			checkArgs(t, "helm container args", args)
			if ic := dig(pod, "initContainers", 0); ic != nil {
				var iargs []string
				for _, a := range dig(ic, "args").([]any) {
					iargs = append(iargs, a.(string))
				}
				checkArgs(t, "helm init container args", iargs)
			}
			cfg := checkConfig(t, "helm roster.yaml", []byte(dig(docs["ConfigMap"], "data", "roster.yaml").(string)))
			if want := strings.TrimSuffix(strings.Fields(m.name)[0], ","); cfg.Store.Backend() != want {
				t.Errorf("configured store %s in %s mode", cfg.Store.Backend(), m.name)
			}
			port := dig(c, "ports", 0, "containerPort")
			if !strings.HasSuffix(cfg.Listen, fmt.Sprintf(":%v", port)) || dig(docs["Service"], "spec", "ports", 0, "targetPort") != "http" {
				t.Errorf("listen %s, containerPort %v", cfg.Listen, port)
			}
			if got := dig(docs["Service"], "spec", "sessionAffinity"); (got == "ClientIP") != (cfg.Store.Postgres != nil) {
				t.Errorf("Service sessionAffinity = %v in %s mode (sign-in pages need sticky replicas)", got, m.name)
			}
			if got := dig(docs["ServiceMonitor"], "spec", "endpoints", 0, "path"); got != "/metrics" {
				t.Errorf("ServiceMonitor path = %v", got)
			}
			secret := dig(docs["Secret"], "stringData").(map[string]any)
			if _, ok := secret["ROSTER_DATABASE_URL"]; ok != (cfg.Store.Postgres != nil) {
				t.Errorf("Secret keys %v in %s mode", secret, m.name)
			}
		})
	}
}

func TestDeploySystemd(t *testing.T) {
	unit := string(readDeploy(t, "systemd/roster.service"))
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=roster", "NoNewPrivileges=yes"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("unit lacks %s", want)
		}
	}
	exec0 := regexp.MustCompile(`(?m)^ExecStart=(\S+)\s+(.*)$`).FindStringSubmatch(unit)
	if exec0 == nil {
		t.Fatal("no ExecStart")
	}
	checkArgs(t, "ExecStart", strings.Fields(exec0[2]))
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit is checked by the rules above only")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "roster.service")
	if err := os.WriteFile(p, []byte(strings.Replace(unit, exec0[1], binary, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", p).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
