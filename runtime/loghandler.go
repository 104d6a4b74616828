package runtime

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// logAttrsKey is the context key of a handler call's logAttrs.
type logAttrsKey struct{}

// logAttrs is what a handler call's context carries for its log lines.
type logAttrs struct {
	node, runID, messageID string
	attempt                int
}

// contextHandler wraps the runtime's slog.Handler so that a line logged
// with a handler call's context (slog.InfoContext(ctx, ...) in the handler)
// carries the call's node, run_id, message_id and attempt, and a line
// logged with a traced context (the handler's, or the runtime's own lines
// about a message) its trace_id and span_id. A key the logger (With) or the
// line already has is not added again.
type contextHandler struct {
	h    slog.Handler
	keys []string // keys added by WithAttrs outside any group
	// grouped is set after WithGroup: the line's own attributes, and the
	// call's, go into the group, so no key clashes with keys.
	grouped bool
}

// Enabled reports whether the wrapped handler handles level.
func (c contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return c.h.Enabled(ctx, level)
}

// Handle adds the handler call's attributes from ctx, if any, to r and
// passes it on.
func (c contextHandler) Handle(ctx context.Context, r slog.Record) error {
	la, ok := ctx.Value(logAttrsKey{}).(*logAttrs)
	sc := trace.SpanContextFromContext(ctx)
	if !ok && !sc.IsValid() {
		return c.h.Handle(ctx, r)
	}
	has := map[string]bool{}
	if !c.grouped {
		for _, k := range c.keys {
			has[k] = true
		}
	}
	r.Attrs(func(a slog.Attr) bool { has[a.Key] = true; return true })
	r = r.Clone()
	add := func(a slog.Attr) {
		if !has[a.Key] {
			r.AddAttrs(a)
		}
	}
	if ok {
		add(slog.String("node", la.node))
		add(slog.String("run_id", la.runID))
		if la.messageID != "" {
			add(slog.String("message_id", la.messageID))
		}
		add(slog.Int("attempt", la.attempt))
	}
	if sc.IsValid() {
		add(slog.String("trace_id", sc.TraceID().String()))
		add(slog.String("span_id", sc.SpanID().String()))
	}
	return c.h.Handle(ctx, r)
}

// WithAttrs returns the handler with attrs added to every line.
func (c contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	keys := c.keys
	if !c.grouped {
		keys = slices.Clip(keys)
		for _, a := range attrs {
			keys = append(keys, a.Key)
		}
	}
	return contextHandler{h: c.h.WithAttrs(attrs), keys: keys, grouped: c.grouped}
}

// WithGroup returns the handler with later attributes nested under name.
func (c contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return c
	}
	return contextHandler{h: c.h.WithGroup(name), keys: c.keys, grouped: true}
}
