package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/bodytimeout"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage/fs"
	"github.com/s3fed/s3fed/internal/sts"
)

// handlers builds the API listener's and the S3 listener's handlers.
func (s *Server) handlers() (api http.Handler, s3h http.Handler, err error) {
	rt := jsonapi.NewRouter()
	ex := &sts.Service{Store: s.Store, Keys: s.Keys, PublicURL: s.cfg.PublicURL, Skew: s.cfg.ClockSkew, Log: s.cfg.Log,
		Limit: &sts.Limiter{Rate: s.cfg.ExchangeRate, Burst: float64(s.cfg.ExchangeBurst)}}
	ex.Register(rt)
	s.Policies = &admin.Policies{Set: &policy.Set{}}
	if err := s.Policies.LoadAll(context.Background(), s.Store); err != nil {
		return nil, nil, err
	}
	aw := newAuditWriter(s.Store, s.cfg.Log)
	s.closeFns = append(s.closeFns, aw.Close)
	adm := &admin.API{Store: s.Store, Log: s.cfg.Log, Keys: s.Creds, PublicURL: s.cfg.PublicURL, TestConfig: ex.TestSAML,
		Policies: s.Policies, SyncAudit: func(ctx context.Context) {
			// Requests answered before this read may still be writing their
			// access event: wait for them, then for the queue.
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			s.inflight.wait(ctx)
			aw.Sync(ctx)
		}}
	adm.Register(rt)
	rt.Handle("GET", "/healthz", func(w http.ResponseWriter, r *http.Request) error {
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	rt.Handle("GET", "/readyz", func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Store.Ping(ctx); err != nil {
			jsonapi.NoteError(r.Context(), fmt.Errorf("state store ping: %w", err))
			jsonapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "state store does not answer"})
			return nil
		}
		jsonapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	s3h, err = s.gateway(ex.QueryHandler(), aw)
	if err != nil {
		return nil, nil, err
	}
	return rt, s.inflight.wrap(s3h), nil
}

// apiBodyTimeout makes every JSON API request body due within d.
func apiBodyTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bodytimeout.Total(w, r, d)
		h.ServeHTTP(w, r)
	})
}

// gateway builds the S3 front door over the embedded store.
func (s *Server) gateway(stsQuery http.Handler, aw *auditWriter) (http.Handler, error) {
	backend, err := fs.Open(filepath.Join(s.cfg.DataDir, "objects"), fs.Options{})
	if err != nil {
		return nil, fmt.Errorf("open object store: %w", err)
	}
	s.closeFns = append(s.closeFns, backend.Close)
	if r := backend.Opened(); r.New || r.CleanStop {
		s.cfg.Log.Debug("object store opened", "new", r.New, "took", r.Took)
	} else {
		s.cfg.Log.Info("object store recovered after an unclean stop", "journal_records_replayed", r.Replayed,
			"garbage_scan", r.GarbageScan, "took", r.Took)
	}
	return s3.New(s3.Config{
		Authenticator: &sigv4.Verifier{Region: s.cfg.Region, Service: "s3", Source: credSource{s.Creds}},
		Authorizer:    &authorizer{set: s.Policies.Set},
		Buckets:       s3.NewBucketCache(bucketRecords{s.Store}, time.Second),
		Backend:       backend,
		AccessLog:     aw,
		STS:           stsQuery,
		Region:        s.cfg.Region,
		Domain:        s.cfg.S3Domain,
		Logger:        s.cfg.Log,
		// The STS query API shares the listener but, like the JSON
		// exchange, takes a small body that must arrive whole in time.
		BodyStallTimeout: s.cfg.Timeouts.S3BodyStall,
		STSBodyTimeout:   s.cfg.Timeouts.APIBody,
		PolicyValidator: func(bucket string, doc []byte) error {
			_, err := policy.ParseBucketPolicy(doc, bucket)
			return err
		},
		PolicyIsPublic: func(bucket string, doc []byte) bool {
			bp, err := policy.ParseBucketPolicy(doc, bucket)
			return err == nil && bp.IsPublic()
		},
	})
}
