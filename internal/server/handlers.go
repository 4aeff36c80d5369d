package server

import (
	"context"
	"net/http"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/sts"
)

// handlers builds the API listener's and the S3 listener's handlers.
func (s *Server) handlers() (api http.Handler, s3 http.Handler, err error) {
	rt := jsonapi.NewRouter()
	ex := &sts.Service{Store: s.Store, Keys: s.Keys, PublicURL: s.cfg.PublicURL, Skew: s.cfg.ClockSkew, Log: s.cfg.Log}
	ex.Register(rt)
	s.Policies = &admin.Policies{Set: &policy.Set{}}
	if err := s.Policies.LoadAll(context.Background(), s.Store); err != nil {
		return nil, nil, err
	}
	adm := &admin.API{Store: s.Store, Log: s.cfg.Log, Keys: s.Creds, PublicURL: s.cfg.PublicURL, TestConfig: ex.TestSAML, Policies: s.Policies}
	adm.Register(rt)
	rt.Handle("GET", "/healthz", func(w http.ResponseWriter, r *http.Request) error {
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	rt.Handle("GET", "/readyz", func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Store.Ping(ctx); err != nil {
			jsonapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "state store does not answer"})
			return nil
		}
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	s3h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotImplemented)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>NotImplemented</Code><Message>the S3 gateway is not enabled in this build</Message></Error>`))
	})
	return rt, s3h, nil
}
