package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// The admin API of regulations (docs/privacy.md#admin-api), behind
// admin.token like /debug/:
//
//	POST /v1/regulations       submit one (JSON, see RegulationRequest): 201 with its status
//	GET  /v1/regulations       the latest (?limit=N, default 100), newest first
//	GET  /v1/regulations/{id}  one, with its status per destination

// RegulationRequest is the body of POST /v1/regulations.
type RegulationRequest struct {
	Type regulations.Type `json:"type"`
	// UserID, AnonymousID and Email name one user; Users names several (up
	// to 5,000 in all).
	UserID       string      `json:"userId,omitempty"`
	AnonymousID  string      `json:"anonymousId,omitempty"`
	Email        string      `json:"email,omitempty"`
	Users        []plan.User `json:"users,omitempty"`
	Destinations []string    `json:"destinations,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	RequestedBy  string      `json:"requestedBy,omitempty"`
}

// maxRegulationBody bounds a POST: 5,000 users with their longest ids.
const maxRegulationBody = 8 << 20

// regulationRoutes adds the routes to the admin mux.
func regulationRoutes(mux *http.ServeMux, r *Router, token string) {
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			if !authorized(req, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: send Authorization: Bearer <admin.token>"})
				return
			}
			if r.Regulations() == nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not started: the regulations are not read yet"})
				return
			}
			h(w, req)
		}
	}
	mux.HandleFunc("POST /v1/regulations", guard(func(w http.ResponseWriter, req *http.Request) {
		var body RegulationRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxRegulationBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not a regulation: " + err.Error()})
			return
		}
		reg := body.regulation(req)
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Minute)
		defer cancel()
		rep, err := r.SubmitRegulation(ctx, reg)
		if err != nil {
			status := http.StatusBadRequest
			if !errors.Is(err, regulations.ErrRefused) {
				status = http.StatusServiceUnavailable
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, rep)
	}))
	mux.HandleFunc("GET /v1/regulations", guard(func(w http.ResponseWriter, req *http.Request) {
		limit := 100
		if s := req.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit: want a whole number"})
				return
			}
			limit = n
		}
		reps, err := r.Regulations().List(req.Context(), limit)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		if reps == nil {
			reps = []regulations.Report{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"regulations": reps})
	}))
	mux.HandleFunc("GET /v1/regulations/{id}", guard(func(w http.ResponseWriter, req *http.Request) {
		rep, err := r.Regulations().Report(req.Context(), req.PathValue("id"))
		switch {
		case errors.Is(err, regulations.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, rep)
		}
	}))
}

// regulation builds the regulation a request asks for.
func (b RegulationRequest) regulation(req *http.Request) *regulations.Regulation {
	reg := &regulations.Regulation{Type: b.Type, Users: b.Users, Destinations: b.Destinations, Reason: b.Reason, RequestedBy: b.RequestedBy}
	if b.UserID != "" || b.AnonymousID != "" || b.Email != "" {
		reg.Users = append([]plan.User{{UserID: b.UserID, AnonymousID: b.AnonymousID, Email: b.Email}}, reg.Users...)
	}
	if reg.RequestedBy == "" {
		reg.RequestedBy = "admin API (" + req.RemoteAddr + ")"
	} else {
		reg.RequestedBy += " (admin API, " + req.RemoteAddr + ")"
	}
	return reg
}

// SubmitRegulation records a regulation with the scope of the running
// config, and returns its status.
func (r *Router) SubmitRegulation(ctx context.Context, reg *regulations.Regulation) (regulations.Report, error) {
	store := r.Regulations()
	if store == nil {
		return regulations.Report{}, errors.New("the router is not started")
	}
	r.mu.Lock()
	plans := r.plans
	r.mu.Unlock()
	scope, err := regulations.ScopeOf(reg, plans)
	if err != nil {
		return regulations.Report{}, err
	}
	if err := store.Submit(ctx, reg, scope); err != nil {
		return regulations.Report{}, err
	}
	rep, err := store.Report(ctx, reg.ID)
	if err != nil {
		return regulations.Report{}, fmt.Errorf("regulation %s recorded; reading it back: %w", reg.ID, err)
	}
	return rep, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
