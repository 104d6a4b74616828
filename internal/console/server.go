package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/console/web"
	"github.com/dgehq/dge/internal/diagram"
	"github.com/dgehq/dge/internal/mgmt"
)

// Config is what a Server serves and how.
type Config struct {
	// Graph is the graph shown; its broker block names the vhost.
	Graph *config.Graph
	// Management reads the status (see status.Read).
	Management *mgmt.Client
	// Dial connects over AMQP to the graph's vhost for the parked
	// messages' operations; the server closes each connection when the
	// request is done.
	Dial func() (*apply.Mover, error)
	// Addr is the host:port the console listens on, its port resolved
	// (not ":0"): requests must name it, or localhost, 127.0.0.1 or
	// [::1] with its port, in their Host header.
	Addr string
	// AllowActions allows redrive and purge, with the token.
	AllowActions bool
	// TraceURL is a link template to a run's trace (e.g. a Jaeger URL),
	// with {run_id} and {trace_id} replaced; "" for none. It must be an
	// http or https URL.
	TraceURL string
	// Scrub removes secrets (passwords, URL credentials) from error text
	// before it is sent or logged; nil leaves text as it is.
	Scrub func(string) string
	// Logger receives the server's errors and actions; nil discards.
	Logger *slog.Logger
	// SampleEvery is how often the history sampler reads the status
	// (default 5 s); HistorySpan how long samples are kept (default 10
	// minutes).
	SampleEvery, HistorySpan time.Duration
	// ListLimit bounds how many messages GET /api/parked returns (its
	// total counts them all); default 1000.
	ListLimit int
}

// Server serves the console. New starts its history sampler; Close stops
// it.
type Server struct {
	cfg    Config
	token  string
	port   string
	layout diagram.Layout
	log    *slog.Logger
	mux    *http.ServeMux
	cache  statusCache
	hist   *history
	stop   context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New checks cfg, draws the token when actions are allowed, lays the graph
// out and starts the history sampler.
func New(cfg Config) (*Server, error) {
	if cfg.Graph == nil || cfg.Management == nil || cfg.Dial == nil {
		return nil, errors.New("console: Config needs Graph, Management and Dial")
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port == "" || port == "0" {
		return nil, fmt.Errorf("console address %q: give the host:port it listens on, its port resolved", cfg.Addr)
	}
	if err := checkTraceURL(cfg.TraceURL); err != nil {
		return nil, err
	}
	if cfg.Scrub == nil {
		cfg.Scrub = func(s string) string { return s }
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 5 * time.Second
	}
	if cfg.HistorySpan <= 0 {
		cfg.HistorySpan = 10 * time.Minute
	}
	if cfg.ListLimit <= 0 {
		cfg.ListLimit = 1000
	}
	s := &Server{cfg: cfg, port: port, layout: diagram.NewLayout(cfg.Graph), log: cfg.Logger, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.AllowActions {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("console token: %w", err)
		}
		s.token = hex.EncodeToString(b)
	}
	s.hist = newHistory(cfg.Graph, int(cfg.HistorySpan/cfg.SampleEvery)+1)
	s.routes()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.sample(ctx)
	return s, nil
}

// Close stops the history sampler and waits for it; the handler keeps
// serving what it holds.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		<-s.done
	})
	return nil
}

// URL is the address to open: with ?token=T when actions are allowed, so
// that the browser that opens it receives the token's cookie.
// On every interface (0.0.0.0, ::), it names 127.0.0.1.
func (s *Server) URL() string {
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, s.port) + "/"
	if s.token != "" {
		u += "?token=" + s.token
	}
	return u
}

// Handler returns the console's pages, static files and API, behind its
// host, token and origin checks and security headers.
func (s *Server) Handler() http.Handler {
	return s.guard(s.mux)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	for p, file := range web.Pages {
		m.HandleFunc("GET "+p+func() string {
			if p == "/" {
				return "{$}"
			}
			return ""
		}(), s.page(file))
	}
	m.HandleFunc("GET "+web.StaticPrefix+"{file}", s.static)
	m.HandleFunc("GET /api/graph", s.apiGraph)
	m.HandleFunc("GET /api/status", s.apiStatus)
	m.HandleFunc("GET /api/history", s.apiHistory)
	m.HandleFunc("GET /api/parked", s.apiParked)
	m.HandleFunc("GET /api/message", s.apiMessage)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("POST /api/parked/count", s.action(s.apiCount))
	m.HandleFunc("POST /api/parked/redrive", s.action(s.apiRedrive))
	m.HandleFunc("POST /api/parked/purge", s.action(s.apiPurge))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s: no such API call; see docs/console.md for the API", r.Method, r.URL.Path))
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page: open / (the graph), /parked, /message or /runs", http.StatusNotFound)
	})
	s.mux = m
}

// page serves one of the pages of web.Files.
func (s *Server) page(file string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, file)
	}
}

// static serves a file of web.Files that is no page, by its name.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".go") || name != path.Base(name) {
		http.NotFound(w, r)
		return
	}
	serveFile(w, name)
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

func serveFile(w http.ResponseWriter, name string) {
	b, err := web.Files.ReadFile(name)
	ct, known := contentTypes[path.Ext(name)]
	if err != nil || !known {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(b)
}
