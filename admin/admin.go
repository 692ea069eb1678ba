package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/status"
)

// Errors of [New]; use [errors.Is].
var (
	// ErrNoAuthorizer means the Config has no Authorize function.
	ErrNoAuthorizer = errors.New("admin: Config.Authorize is required: every request, reads included, must be authorized")
	// ErrBadConfig means the Config lacks its Backend or Set.
	ErrBadConfig = errors.New("admin: invalid config")
)

// Action is what a request asks to do, as given to the [Authorizer].
type Action string

// The actions of the handler.
const (
	// ActionStatus reads the status of every version.
	ActionStatus Action = "status"
	// ActionPlan reads the plan to a target.
	ActionPlan Action = "plan"
	// ActionApply applies a plan.
	ActionApply Action = "apply"
)

// Authorizer decides whether r may perform action: nil allows it, an error
// refuses it with 403 Forbidden (the error's text is not sent; it goes to
// the Logger). It is called for every request before anything else, from
// the request's goroutine, possibly concurrently.
type Authorizer func(r *http.Request, action Action) error

// Config configures [New].
type Config struct {
	// Backend is the database. Required.
	Backend backend.Backend
	// Set is the migration set of this binary. Required.
	Set *source.Set
	// Authorize is called for every request. Required: New refuses a
	// Config without it.
	Authorize Authorizer
	// AllowApply enables POST /apply. Default false: it answers 403.
	AllowApply bool
	// Plan holds the checks status, plan and apply plan with. Default nil:
	// the defaults of plan.Options.
	Plan *plan.Options
	// Execute configures apply (timeouts, progress, logger). Its Files
	// field is set to Set. Default nil: the defaults of execute.Options.
	Execute *execute.Options
	// Logger receives the detail of refusals and errors that responses do
	// not carry. Default: nothing is logged.
	Logger *slog.Logger
}

// Handler is the admin endpoint; see the package doc. It is safe for
// concurrent use.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler of cfg, or an error wrapping [ErrNoAuthorizer]
// or [ErrBadConfig].
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Authorize == nil:
		return nil, ErrNoAuthorizer
	case cfg.Backend == nil:
		return nil, fmt.Errorf("%w: Backend is nil", ErrBadConfig)
	case cfg.Set == nil:
		return nil, fmt.Errorf("%w: Set is nil", ErrBadConfig)
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /status", h.guard(ActionStatus, h.status))
	h.mux.HandleFunc("GET /plan", h.guard(ActionPlan, h.plan))
	h.mux.HandleFunc("POST /apply", h.guard(ActionApply, h.apply))
	return h, nil
}

// ServeHTTP serves a request; see the package doc.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// guard authorizes a request for action before serving it.
func (h *Handler) guard(action Action, serve http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.cfg.Authorize(r, action); err != nil {
			h.log.WarnContext(r.Context(), "waymark admin: request refused by the authorizer", "action", string(action), "error", err)
			h.fail(w, r, http.StatusForbidden, "not authorized to "+string(action))
			return
		}
		serve(w, r)
	}
}

// status serves GET /status.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	rep, err := status.Read(r.Context(), h.cfg.Backend, h.cfg.Set, h.cfg.Plan)
	if err != nil {
		h.error(w, r, err)
		return
	}
	if wantsJSON(r) {
		h.json(w, http.StatusOK, rep)
		return
	}
	h.text(w, http.StatusOK, rep.String())
}

// planFormat names the JSON layout of GET /plan.
const planFormat = "waymark.admin.plan/v1"

type planDoc struct {
	Format   string     `json:"format"`
	Target   string     `json:"target"`
	Checksum string     `json:"checksum"`
	Empty    bool       `json:"empty"`
	Plan     *plan.Plan `json:"plan"`
	Review   string     `json:"review"`
}

// plan serves GET /plan.
func (h *Handler) plan(w http.ResponseWriter, r *http.Request) {
	t, err := targetOf(r.URL.Query().Get("to"), r.URL.Query().Get("down-to"))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	p, err := plan.Build(r.Context(), h.cfg.Backend, h.cfg.Set, t, h.cfg.Plan)
	if err != nil {
		h.error(w, r, err)
		return
	}
	sum, err := PlanChecksum(p)
	if err != nil {
		h.error(w, r, err)
		return
	}
	if wantsJSON(r) {
		h.json(w, http.StatusOK, planDoc{Format: planFormat, Target: t.String(), Checksum: sum, Empty: p.Empty(), Plan: p, Review: p.Review()})
		return
	}
	h.text(w, http.StatusOK, p.Review()+"\nchecksum: "+sum+"\n")
}

// applyRequest is the body of POST /apply.
type applyRequest struct {
	To       *int64 `json:"to"`
	DownTo   *int64 `json:"down_to"`
	Checksum string `json:"checksum"`
}

type applyDoc struct {
	Format    string           `json:"format"`
	From      int64            `json:"from"`
	To        int64            `json:"to"`
	Direction source.Direction `json:"direction"`
	Steps     []applyStep      `json:"steps"`
	Error     string           `json:"error,omitempty"`
}

type applyStep struct {
	Version   int64            `json:"version"`
	Name      string           `json:"name,omitempty"`
	Direction source.Direction `json:"direction"`
	Duration  string           `json:"duration"`
	// Repeatable marks a repeatable script's step (Version 0, Name its
	// name).
	Repeatable bool `json:"repeatable,omitempty"`
}

// maxBody bounds the body of POST /apply.
const maxBody = 1 << 16

// apply serves POST /apply.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !h.cfg.AllowApply {
		h.fail(w, r, http.StatusForbidden, "apply is not enabled on this endpoint (admin.Config.AllowApply)")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.fail(w, r, http.StatusUnsupportedMediaType, "apply takes a JSON body (Content-Type: application/json)")
		return
	}
	var req applyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.fail(w, r, http.StatusBadRequest, "apply: bad JSON body: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		h.fail(w, r, http.StatusBadRequest, "apply: the body must hold one JSON object")
		return
	}
	if req.Checksum == "" {
		h.fail(w, r, http.StatusBadRequest, `apply: the body has no "checksum": get the plan first (GET plan) and send its checksum`)
		return
	}
	var to, down string
	if req.To != nil {
		to = strconv.FormatInt(*req.To, 10)
	}
	if req.DownTo != nil {
		down = strconv.FormatInt(*req.DownTo, 10)
	}
	t, err := targetOf(to, down)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	p, err := plan.Build(ctx, h.cfg.Backend, h.cfg.Set, t, h.cfg.Plan)
	if err != nil {
		h.error(w, r, err)
		return
	}
	sum, err := PlanChecksum(p)
	if err != nil {
		h.error(w, r, err)
		return
	}
	if sum != req.Checksum {
		h.fail(w, r, http.StatusConflict, "apply refused: the plan "+t.String()+" is not the one whose checksum was sent "+
			"(the database or the migrations changed since it was shown, or the checksum is wrong); nothing was applied: get the plan again")
		return
	}
	var opts execute.Options
	if h.cfg.Execute != nil {
		opts = *h.cfg.Execute
	}
	opts.Files = h.cfg.Set
	res, err := execute.Run(ctx, h.cfg.Backend, p, &opts)
	doc := applyDoc{Format: "waymark.admin.apply/v1", From: p.From, To: p.To, Direction: p.Direction, Steps: []applyStep{}}
	for _, s := range res.Steps {
		doc.Steps = append(doc.Steps, applyStep{s.Version, s.Name, s.Direction, s.Duration.String(), s.Repeatable})
	}
	if err != nil {
		code, msg := public(err)
		h.log.ErrorContext(ctx, "waymark admin: apply failed", "error", err)
		doc.Error = msg
		h.json(w, code, doc)
		return
	}
	h.json(w, http.StatusOK, doc)
}

// PlanChecksum returns the checksum a POST apply must carry for p:
// "sha256:" and the hex SHA-256 of p's JSON, which holds its steps with
// their SQL and the state it was made from.
func PlanChecksum(p *plan.Plan) (string, error) {
	data, err := p.MarshalJSON()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// targetOf reads the to / down-to parameters.
func targetOf(to, down string) (plan.Target, error) {
	parse := func(name, s string) (int64, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%s %q: want a version number, 0 or more", name, s)
		}
		return v, nil
	}
	switch {
	case to != "" && down != "":
		return plan.Target{}, errors.New("give to or down-to, not both")
	case to != "":
		v, err := parse("to", to)
		return plan.To(v), err
	case down != "":
		v, err := parse("down-to", down)
		return plan.DownTo(v), err
	}
	return plan.Latest(), nil
}

// public returns the status code and message a response may carry for
// err: the planner's refusals and the migrations' own errors as they are,
// anything else (connections, the backend's bookkeeping) as a generic
// message.
func public(err error) (int, string) {
	var pe *plan.Error
	var pl plan.ErrorList
	switch {
	case errors.Is(err, backend.ErrConnectionLost):
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "the request was cancelled; a step under way was stopped and rolled back"
	case errors.Is(err, execute.ErrStalePlan), errors.Is(err, execute.ErrBadPlan), errors.As(err, &pe), errors.As(err, &pl):
		return http.StatusConflict, scrub(err.Error())
	case errors.Is(err, execute.ErrLockTimeout):
		return http.StatusServiceUnavailable, scrub(err.Error())
	case errors.Is(err, execute.ErrStepFailed):
		return http.StatusInternalServerError, scrub(err.Error())
	}
	return http.StatusInternalServerError, "database error; the service's log has the detail"
}

// secrets match what might be a connection string or a password in a
// message.
var secrets = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://\S+|password\s*=\s*\S+|user\s*=\s*\S+|host\s*=\s*\S+)`)

// scrub removes anything that looks like a connection string or a
// password from msg.
func scrub(msg string) string { return secrets.ReplaceAllString(msg, "[redacted]") }

// error answers err: see public.
func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := public(err)
	h.log.ErrorContext(r.Context(), "waymark admin: request failed", "path", r.URL.Path, "error", err)
	h.fail(w, r, code, msg)
}

type errorDoc struct {
	Error string `json:"error"`
}

// fail answers with code and msg, in JSON or text as the request prefers
// (always JSON for apply).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if wantsJSON(r) || r.Method == http.MethodPost {
		h.json(w, code, errorDoc{Error: msg})
		return
	}
	h.text(w, code, msg+"\n")
}

func (h *Handler) text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func (h *Handler) json(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.log.Error("waymark admin: encode response", "error", err)
	}
}

// wantsJSON reports whether r asks for JSON: format=json in the query, or
// application/json in Accept.
func wantsJSON(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "json"
	}
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// ErrNotReady is returned (wrapped) by [Ready] when the database is not at
// the version the set expects; use [errors.Is].
var ErrNotReady = errors.New("database not at the expected version")

// Ready returns nil when db has applied every version of set, clean and
// with the files' checksums (and maybe newer versions a newer release
// applied), and every repeatable script of set as it is in the files, and
// otherwise an error wrapping [ErrNotReady] saying why, or
// the error of reading the history. With a backend that keeps digests
// (backend.HeadReader) it reads one row when the database is ready. It
// takes no lock and writes nothing.
func Ready(ctx context.Context, db backend.Backend, set *source.Set) error {
	latest := set.Latest()
	if hr, ok := db.(backend.HeadReader); ok {
		h, err := hr.ReadHead(ctx)
		if err != nil {
			return fmt.Errorf("admin: ready: %w", err)
		}
		if d, ok := set.Digest(latest); ok && h.Known && !h.Dirty && h.Version == latest && d == h.Digest && h.Repeatables == set.RepeatablesDigest() {
			return nil
		}
	}
	st, err := plan.ReadState(ctx, db)
	if err != nil {
		return fmt.Errorf("admin: ready: %w", err)
	}
	p, err := plan.Compute(set, st, plan.Latest(), &plan.Options{AllowNewerDatabase: true})
	switch {
	case err != nil:
		return fmt.Errorf("admin: %w: %w", ErrNotReady, err)
	case !p.Empty():
		return fmt.Errorf("admin: %w: database at version %d, this binary's migrations expect %d (%d steps pending)", ErrNotReady, st.Version(), latest, len(p.Steps))
	}
	return nil
}

// ReadyHandler answers a readiness probe: 200 "ready" when [Ready] returns
// nil, 503 "not ready" otherwise, and nothing more (the reason goes to
// logger, which may be nil). Each probe waits at most timeout for the
// database (0 means 5 seconds); it needs no authorizer because it says
// nothing but ready or not.
func ReadyHandler(db backend.Backend, set *source.Set, timeout time.Duration, logger *slog.Logger) http.Handler {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := Ready(ctx, db, set); err != nil {
			logger.WarnContext(ctx, "waymark: not ready", "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
}
