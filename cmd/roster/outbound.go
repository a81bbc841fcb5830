package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/roster-dev/roster/admin"
	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/outbound"
)

// outboundSection is the mapping form of the `outbound:` section; the
// list form is its targets alone.
type outboundSection struct {
	// SecretKey (32 bytes, base64) encrypts the secrets of the targets
	// created through the admin API; without it they cannot be created.
	SecretKey string                  `yaml:"secretKey"`
	Targets   []outbound.TargetConfig `yaml:"targets"`
}

// decodeOutbound decodes and validates the top-level `outbound:` section:
// a list of targets, or {secretKey, targets}.
func decodeOutbound(cfg *config.Config, s *sections) error {
	field := "outbound"
	if cfg.Outbound.Kind == yaml.MappingNode {
		var sec outboundSection
		if err := config.Section(cfg.Outbound, "outbound", &sec); err != nil {
			return err
		}
		if sec.SecretKey != "" {
			k, err := outbound.ParseSecretKey(sec.SecretKey)
			if err != nil {
				return &config.Error{Field: "outbound.secretKey", Msg: strings.TrimPrefix(err.Error(), "outbound: ")}
			}
			s.outboundKey = k
		}
		s.outbound, field = sec.Targets, "outbound.targets"
	} else if err := config.Section(cfg.Outbound, "outbound", &s.outbound); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range s.outbound {
		t := &s.outbound[i]
		if err := t.Validate(); err != nil {
			var fe *outbound.FieldError
			if errors.As(err, &fe) {
				return &config.Error{Field: fmt.Sprintf("%s[%d].%s", field, i, fe.Field), Msg: fe.Msg}
			}
			return &config.Error{Field: fmt.Sprintf("%s[%d]", field, i), Msg: err.Error()}
		}
		if seen[t.ID] {
			return &config.Error{Field: fmt.Sprintf("%s[%d].id", field, i), Msg: "duplicate target " + t.ID}
		}
		seen[t.ID] = true
	}
	return nil
}

// wireOutbound starts the provisioning targets (under a lease: one
// replica delivers), exports their metrics and adds their admin routes.
func (a *app) wireOutbound(p *protocolSet) error {
	if len(a.sections.outbound) == 0 && a.sections.outboundKey == nil {
		return nil
	}
	svc, err := outbound.New(outbound.Config{
		Logger:    a.log.With("component", "outbound"),
		Store:     a.store,
		Engine:    a.engine,
		Targets:   a.sections.outbound,
		SecretKey: a.sections.outboundKey,
	})
	if err != nil {
		return err
	}
	a.jobs = append(a.jobs, a.leased("outbound", func(ctx context.Context) {
		if err := svc.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("outbound stopped", "err", err)
		}
	}))
	a.reg.MustRegister(outboundCollector{svc})
	p.adminExtensions = append(p.adminExtensions, outboundRoutes(svc)...)
	return nil
}

// outboundErr translates the package's errors for the admin API.
func outboundErr(err error) error {
	var fe *outbound.FieldError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, outbound.ErrUnknownTarget):
		return &admin.Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, outbound.ErrTargetExists), errors.Is(err, outbound.ErrConfigured):
		return &admin.Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, outbound.ErrNoSecretKey):
		return &admin.Error{Status: http.StatusConflict, Code: "no_secret_key", Message: err.Error()}
	case errors.As(err, &fe):
		return &admin.Error{Status: http.StatusBadRequest, Code: "invalid", Message: fe.Field + ": " + fe.Msg}
	}
	return err
}

// createdTarget answers POST /outbound: the target's status and, this
// once, its secret.
type createdTarget struct {
	outbound.Status
	// Secret is the SCIM token or webhook secret, shown only here.
	Secret string `json:"secret"`
}

// outboundRoutes are the admin API's /outbound routes.
func outboundRoutes(svc *outbound.Service) []admin.Extension {
	action := func(fn func(ctx context.Context, id string) error) func(*http.Request, admin.Body) (int, any, error) {
		return func(r *http.Request, _ admin.Body) (int, any, error) {
			id := r.PathValue("id")
			if err := fn(r.Context(), id); err != nil {
				return 0, nil, outboundErr(err)
			}
			st, err := svc.TargetStatus(r.Context(), id)
			return http.StatusOK, st, outboundErr(err)
		}
	}
	return []admin.Extension{
		{Pattern: "POST /outbound", Handle: func(r *http.Request, body admin.Body) (int, any, error) {
			var in outbound.TargetConfig
			if err := body(&in); err != nil {
				return 0, nil, err
			}
			c, err := svc.Create(r.Context(), in)
			if err != nil {
				return 0, nil, outboundErr(err)
			}
			st, err := svc.TargetStatus(r.Context(), c.ID)
			if err != nil {
				return 0, nil, outboundErr(err)
			}
			out := createdTarget{Status: st}
			if c.SCIM != nil {
				out.Secret = c.SCIM.Token
			} else {
				out.Secret = c.Webhook.Secret
			}
			return http.StatusCreated, out, nil
		}},
		{Pattern: "DELETE /outbound/{id}", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return http.StatusNoContent, nil, outboundErr(svc.Delete(r.Context(), r.PathValue("id")))
		}},
		{Pattern: "GET /outbound", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			return http.StatusOK, map[string]any{"items": svc.Status(r.Context())}, nil
		}},
		{Pattern: "GET /outbound/{id}", Handle: func(r *http.Request, _ admin.Body) (int, any, error) {
			st, err := svc.TargetStatus(r.Context(), r.PathValue("id"))
			return http.StatusOK, st, outboundErr(err)
		}},
		{Pattern: "POST /outbound/{id}/resync", Handle: action(svc.Resync)},
		{Pattern: "POST /outbound/{id}/resume", Handle: action(svc.Resume)},
		{Pattern: "POST /outbound/{id}/approve", Handle: action(svc.Approve)},
		{Pattern: "POST /outbound/{id}/replay", Handle: func(r *http.Request, body admin.Body) (int, any, error) {
			var in struct {
				From uint64 `json:"from"`
			}
			if err := body(&in); err != nil {
				return 0, nil, err
			}
			if in.From == 0 {
				return 0, nil, &admin.Error{Status: http.StatusBadRequest, Code: "invalid", Message: "from: the audit seq to replay from is required"}
			}
			return action(func(ctx context.Context, id string) error { return svc.Replay(ctx, id, in.From) })(r, nil)
		}},
	}
}

var (
	obLagEvents  = prometheus.NewDesc("roster_outbound_lag_events", "Audit entries not yet delivered to the target.", []string{"target", "kind"}, nil)
	obLagSeconds = prometheus.NewDesc("roster_outbound_lag_seconds", "Age of the oldest change not yet delivered to the target (0: caught up).", []string{"target", "kind"}, nil)
	obFailures   = prometheus.NewDesc("roster_outbound_failures_total", "Failed delivery attempts since start.", []string{"target", "kind"}, nil)
	obDelivered  = prometheus.NewDesc("roster_outbound_delivered_total", "Deliveries (webhook events, SCIM requests) the target acknowledged since start.", []string{"target", "kind"}, nil)
	obPaused     = prometheus.NewDesc("roster_outbound_paused", "1 while the target is paused after repeated failures.", []string{"target", "kind"}, nil)
	obHeld       = prometheus.NewDesc("roster_outbound_held_users", "Deactivations the deletion guard holds for approval.", []string{"target", "kind"}, nil)
)

// outboundCollector exports the targets' status as metrics.
type outboundCollector struct{ svc *outbound.Service }

func (outboundCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{obLagEvents, obLagSeconds, obFailures, obDelivered, obPaused, obHeld} {
		ch <- d
	}
}

func (c outboundCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, st := range c.svc.Status(ctx) {
		l := []string{st.ID, st.Kind}
		paused, held := 0.0, 0.0
		if st.Paused {
			paused = 1
		}
		if st.Held != nil {
			held = float64(st.Held.Users)
		}
		ch <- prometheus.MustNewConstMetric(obLagEvents, prometheus.GaugeValue, float64(st.LagEvents), l...)
		ch <- prometheus.MustNewConstMetric(obLagSeconds, prometheus.GaugeValue, st.LagSeconds, l...)
		ch <- prometheus.MustNewConstMetric(obFailures, prometheus.CounterValue, float64(st.FailuresTotal), l...)
		ch <- prometheus.MustNewConstMetric(obDelivered, prometheus.CounterValue, float64(st.Delivered), l...)
		ch <- prometheus.MustNewConstMetric(obPaused, prometheus.GaugeValue, paused, l...)
		ch <- prometheus.MustNewConstMetric(obHeld, prometheus.GaugeValue, held, l...)
	}
}

// cmdOutbound is `roster outbound status|resync|replay|resume|approve`.
func cmdOutbound(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("outbound: status, resync, replay, resume or approve")
	}
	sub := args[0]
	fs := flag.NewFlagSet("outbound "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mk := clientFlags(fs)
	target := fs.String("target", "", "target id")
	from := fs.Uint64("from", 0, "audit seq to replay from (replay)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	if sub == "status" {
		var list struct {
			Items []outbound.Status `json:"items"`
		}
		if *target != "" {
			var st outbound.Status
			if err := c.do(ctx, http.MethodGet, "/outbound/"+*target, nil, &st); err != nil {
				return err
			}
			list.Items = append(list.Items, st)
		} else if err := c.do(ctx, http.MethodGet, "/outbound", nil, &list); err != nil {
			return err
		}
		printOutbound(stdout, list.Items)
		return nil
	}
	if *target == "" {
		return fmt.Errorf("outbound %s: --target is required", sub)
	}
	var in any
	switch sub {
	case "resync", "resume", "approve":
	case "replay":
		if *from == 0 {
			return errors.New("outbound replay: --from SEQ is required")
		}
		in = map[string]uint64{"from": *from}
	default:
		return fmt.Errorf("outbound: unknown command %q", sub)
	}
	var st outbound.Status
	if err := c.do(ctx, http.MethodPost, "/outbound/"+*target+"/"+sub, in, &st); err != nil {
		return err
	}
	printOutbound(stdout, []outbound.Status{st})
	return nil
}

func printOutbound(w io.Writer, sts []outbound.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tKIND\tCURSOR\tLAG\tLAG(s)\tDELIVERED\tFAILURES\tSTATE")
	for _, st := range sts {
		state := "ok"
		switch {
		case st.Paused:
			state = "paused: " + st.PausedReason
		case st.Held != nil:
			state = "held: " + st.Held.Reason + " (roster outbound approve)"
		case st.Failures > 0:
			state = "retrying: " + st.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\n", st.ID, st.Kind, st.Cursor, st.LagEvents,
			strconv.FormatFloat(st.LagSeconds, 'f', 1, 64), st.Delivered, st.FailuresTotal, state)
	}
	tw.Flush()
}
