package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/dgehq/dge/plan"
)

// QueueColumns are the columns Read asks of the queue listing.
const QueueColumns = "name,arguments,durable,auto_delete,type,messages,consumers,policy,operator_policy"

// Live is a vhost's state as the management API returns it: the body of
// GET /api/definitions/{vhost}, of GET /api/queues/{vhost}?columns=...
// and of GET /api/operator-policies/{vhost} (absent: none). Test fixtures
// (testdata/plans/*/live.json) have this form.
type Live struct {
	Definitions      json.RawMessage `json:"definitions"`
	Queues           json.RawMessage `json:"queues"`
	OperatorPolicies json.RawMessage `json:"operator_policies,omitempty"`
}

var _ plan.Reader = (*Client)(nil)

// Read returns the vhost's live state with exactly three requests: its
// definitions (exchanges, bindings, policies), one queue listing with only
// the columns dge needs, messages and consumers included, and its operator
// policies (which definitions leave out). Exporting definitions needs the
// administrator tag; for a user without it (a policymaker, or a monitoring
// user for dge status), Read lists exchanges, bindings and policies
// instead: five requests, still independent of the vhost's size.
func (c *Client) Read(ctx context.Context, vhost string) (*plan.Snapshot, error) {
	l, err := c.ReadLive(ctx, vhost)
	if err != nil {
		return nil, err
	}
	return l.Snapshot(vhost)
}

// ReadLive performs Read's requests and returns the raw answers.
func (c *Client) ReadLive(ctx context.Context, vhost string) (*Live, error) {
	var l Live
	op := fmt.Sprintf("read definitions of vhost %q", vhost)
	err := c.getJSON(ctx, op, vhost, "definitions/"+vhostPath(vhost), nil, &l.Definitions)
	var me *Error
	if errors.As(err, &me) && me.Status == http.StatusUnauthorized && strings.Contains(me.Reason, "Not administrator") {
		// Exporting definitions needs the administrator tag; a
		// policymaker reads the same objects with three listings.
		err = c.readListings(ctx, vhost, &l)
	}
	if err != nil {
		return nil, c.hintVhostMissing(err, vhost)
	}
	op = fmt.Sprintf("list queues of vhost %q", vhost)
	q := url.Values{"columns": {QueueColumns}}
	if err := c.getJSON(ctx, op, vhost, "queues/"+vhostPath(vhost), q, &l.Queues); err != nil {
		return nil, err
	}
	op = fmt.Sprintf("list operator policies of vhost %q", vhost)
	if err := c.getJSON(ctx, op, vhost, "operator-policies/"+vhostPath(vhost), nil, &l.OperatorPolicies); err != nil {
		return nil, err
	}
	return &l, nil
}

// isVhostMissing reports whether err says the vhost does not exist: a 404
// from a listing, or the 400 vhost_not_found that exporting definitions
// answers (RabbitMQ 3.10).
func isVhostMissing(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == http.StatusNotFound || (e.Status == http.StatusBadRequest && strings.Contains(e.Reason, "vhost_not_found"))
}

// hintVhostMissing returns err, with a hint saying how to create the vhost
// when err says it does not exist.
func (c *Client) hintVhostMissing(err error, vhost string) error {
	var e *Error
	if isVhostMissing(err) && errors.As(err, &e) {
		e.Hint = fmt.Sprintf("vhost %q does not exist on %s: create it and give user %q permissions on it with rabbitmqctl add_vhost %s && %s, or set vhost in the broker block",
			vhost, c.cfg.Endpoint, c.cfg.Username, shellQuote(vhost), setPermissions(vhost, c.cfg.Username))
	}
	return err
}

// readListings fills l.Definitions from the exchange, binding and policy
// listings of the vhost, for users without the administrator tag.
func (c *Client) readListings(ctx context.Context, vhost string, l *Live) error {
	var defs struct {
		Exchanges []json.RawMessage `json:"exchanges"`
		Bindings  []json.RawMessage `json:"bindings"`
		Policies  []json.RawMessage `json:"policies"`
	}
	var exchanges []struct {
		Name string `json:"name"`
	}
	var raw []json.RawMessage
	op := fmt.Sprintf("list exchanges of vhost %q", vhost)
	q := url.Values{"columns": {"name,type,durable,auto_delete,internal,arguments"}}
	if err := c.getJSON(ctx, op, vhost, "exchanges/"+vhostPath(vhost), q, &raw); err != nil {
		return err
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &exchanges); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	for i, e := range exchanges {
		if e.Name != "" && !strings.HasPrefix(e.Name, "amq.") {
			defs.Exchanges = append(defs.Exchanges, raw[i])
		}
	}
	op = fmt.Sprintf("list bindings of vhost %q", vhost)
	if err := c.getJSON(ctx, op, vhost, "bindings/"+vhostPath(vhost), nil, &defs.Bindings); err != nil {
		return err
	}
	op = fmt.Sprintf("list policies of vhost %q", vhost)
	if err := c.getJSON(ctx, op, vhost, "policies/"+vhostPath(vhost), nil, &defs.Policies); err != nil {
		return err
	}
	out, err := json.Marshal(defs)
	if err != nil {
		return err
	}
	l.Definitions = out
	return nil
}

// DecodeLive reads a Live fixture.
func DecodeLive(r io.Reader) (*Live, error) {
	var l Live
	if err := json.NewDecoder(r).Decode(&l); err != nil {
		return nil, fmt.Errorf("decode live state: %w", err)
	}
	return &l, nil
}

// Snapshot decodes and normalises the raw answers.
func (l *Live) Snapshot(vhost string) (*plan.Snapshot, error) {
	var defs struct {
		Exchanges []rabbithole.ExchangeInfo `json:"exchanges"`
		Bindings  []rabbithole.BindingInfo  `json:"bindings"`
		Policies  []policyJSON              `json:"policies"`
	}
	if len(l.Definitions) > 0 {
		if err := json.Unmarshal(l.Definitions, &defs); err != nil {
			return nil, fmt.Errorf("decode definitions of vhost %q: %w", vhost, err)
		}
	}
	var ops []policyJSON
	if len(l.OperatorPolicies) > 0 {
		if err := json.Unmarshal(l.OperatorPolicies, &ops); err != nil {
			return nil, fmt.Errorf("decode operator policies of vhost %q: %w", vhost, err)
		}
	}
	var queues []struct {
		rabbithole.QueueInfo
		OperatorPolicy string `json:"operator_policy"`
	}
	if len(l.Queues) > 0 {
		if err := json.Unmarshal(l.Queues, &queues); err != nil {
			return nil, fmt.Errorf("decode queue listing of vhost %q: %w", vhost, err)
		}
	}
	s := &plan.Snapshot{Stats: map[string]plan.QueueStats{}}
	s.Vhost = vhost
	for _, e := range defs.Exchanges {
		s.Exchanges = append(s.Exchanges, plan.Exchange{
			Name: e.Name, Type: e.Type, Durable: e.Durable, AutoDelete: bool(e.AutoDelete),
			Internal: e.Internal, Arguments: e.Arguments,
		})
	}
	for _, b := range defs.Bindings {
		s.Bindings = append(s.Bindings, plan.Binding{
			Source: b.Source, Destination: b.Destination, DestinationType: b.DestinationType,
			RoutingKey: b.RoutingKey, Arguments: b.Arguments,
		})
	}
	for _, p := range defs.Policies {
		s.Policies = append(s.Policies, p.policy())
	}
	for _, p := range ops {
		s.OperatorPolicies = append(s.OperatorPolicies, p.policy())
	}
	for _, q := range queues {
		s.Queues = append(s.Queues, plan.Queue{
			Name: q.Name, Type: q.Type, Durable: q.Durable, AutoDelete: bool(q.AutoDelete), Arguments: q.Arguments,
		})
		s.Stats[q.Name] = plan.QueueStats{Messages: int64(q.Messages), Consumers: int64(q.Consumers), Policy: q.Policy, OperatorPolicy: q.OperatorPolicy}
	}
	s.Normalize()
	return s, nil
}

// policyJSON is a policy or operator policy as the management API gives it.
type policyJSON struct {
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"`
	Priority   int            `json:"priority"`
	Definition map[string]any `json:"definition"`
}

func (p policyJSON) policy() plan.Policy {
	return plan.Policy{Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo, Priority: p.Priority, Definition: p.Definition}
}

func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + s + "'"
		}
	}
	return s
}
