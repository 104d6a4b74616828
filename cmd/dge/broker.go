package main

import (
	"fmt"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/amqpcount"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/redact"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/runtime"
)

// managementClient resolves the management API and credentials from the
// environment and the graph's broker block. It also checks the AMQP URLs
// the user named, so that a setting no retry can fix ends the command
// before it reads or changes anything.
func (e *env) managementClient(b config.Broker) (*mgmt.Client, mgmt.Config, error) {
	e.noteSecrets(b)
	cfg, err := mgmt.Resolve(e.environ, b)
	if err != nil {
		return nil, cfg, err
	}
	e.passwords = append(e.passwords, cfg.Password)
	if _, _, explicit, err := e.amqpEndpoints(b, cfg, b.Vhost); explicit && err != nil {
		return nil, cfg, err
	}
	c, err := mgmt.New(cfg, mgmt.Options{})
	return c, cfg, err
}

// counter connects over AMQP to count queues exactly before deletes, when
// the plan deletes or replaces queues: to one of the AMQP URLs picked at
// random, then to the others in turn. A URL the user named must work; a
// derived one that does not is reported and skipped.
func (e *env) counter(b config.Broker, cfg mgmt.Config, p *plan.Plan) (*amqpcount.Counter, error) {
	needed := false
	for _, c := range p.Changes {
		needed = needed || (c.Kind == plan.KindQueue && (c.Action == plan.Delete || c.Action == plan.Replace))
	}
	if !needed {
		return nil, nil
	}
	eps, from, explicit, err := e.amqpEndpoints(b, cfg, p.Vhost)
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, ep := range eps.Round("") {
		c, err := amqpcount.Dial(ep.URL, "dge "+p.Graph)
		if err == nil {
			return c, nil
		}
		msgs = append(msgs, ep.DialError(err).Error())
	}
	msg := e.scrub(strings.Join(msgs, "; "))
	if explicit {
		return nil, fmt.Errorf("%s (from %s)", msg, from)
	}
	e.note(fmt.Sprintf("%s; counting messages with the management API's statistics instead, which lag up to 5 s (set %s to count exactly)", msg, mgmt.AMQPURLEnv))
	return nil, nil
}

// amqpEndpoints returns the AMQP URLs dge uses to count and move messages
// in vhost (see mgmt.AMQPURL), parsed. from names their setting; explicit
// reports whether the user named it. A URL naming another vhost is an
// error: counting in another vhost would find the graph's queues empty.
func (e *env) amqpEndpoints(b config.Broker, cfg mgmt.Config, vhost string) (eps *runtime.Endpoints, from string, explicit bool, err error) {
	list, from, explicit := mgmt.AMQPURL(e.environ, b, cfg, vhost)
	eps, err = runtime.ParseEndpoints(list, vhost, from)
	if err != nil {
		return nil, from, explicit, err
	}
	if eps.Vhost() != vhost {
		return nil, from, explicit, fmt.Errorf("%s names vhost %q, but the graph's vhost is %q: dge counts and moves messages in the graph's vhost; leave the URL's path out to use it",
			from, eps.Vhost(), vhost)
	}
	return eps, from, explicit, nil
}

// noteSecrets remembers the URLs and password of the broker block, for
// scrub.
func (e *env) noteSecrets(b config.Broker) {
	e.urlLists = append(e.urlLists, b.AMQPURL, b.ManagementURL)
	e.passwords = append(e.passwords, b.Password)
}

// scrub removes from s every URL and password dge knows of: the broker
// URLs of the environment and of the broker block, parsable or not (see
// redact.Scrub), and the management password. Everything dge prints on
// failure passes through it.
func (e *env) scrub(s string) string {
	for _, list := range append([]string{e.getenv(mgmt.AMQPURLEnv), e.getenv(mgmt.URLEnv)}, e.urlLists...) {
		s = redact.Scrub(s, list)
	}
	for _, p := range append([]string{e.getenv(mgmt.PasswordEnv)}, e.passwords...) {
		if len(p) >= 4 && p != "guest" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}
