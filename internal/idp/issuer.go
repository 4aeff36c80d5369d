package idp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// IssuerHandler is a tiny OpenID Provider for trying discovery: it serves
// the configuration document at ISSUER-PATH/.well-known/openid-configuration
// and the JWK Set at ISSUER-PATH/jwks, nothing else. Set Issuer to the URL
// clients reach it at (tests set it once the listener's address is known)
// before the first request; while it serves, change the documents with
// SetJWKS and SetCacheControl (key rotation tests). It counts every request, so tests can prove that a refused
// token made no fetch.
type IssuerHandler struct {
	// Issuer is the issuer URL, the "issuer" of the document; tokens must
	// carry it as iss.
	Issuer string
	// JWKS is the JWK Set document served (see JWKS()).
	JWKS []byte
	// CacheControl is sent with both documents; empty means
	// "public, max-age=300".
	CacheControl string

	mu        sync.Mutex
	requests  atomic.Int64
	jwksHits  atomic.Int64
	discovery atomic.Int64
}

// SetJWKS replaces the served JWK Set (safe while serving).
func (h *IssuerHandler) SetJWKS(jwks []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.JWKS = jwks
}

// SetCacheControl replaces the Cache-Control header (safe while serving).
func (h *IssuerHandler) SetCacheControl(cc string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.CacheControl = cc
}

// Requests is the number of requests served so far, any path.
func (h *IssuerHandler) Requests() int64 { return h.requests.Load() }

// JWKSRequests is the number of JWK Set documents served so far.
func (h *IssuerHandler) JWKSRequests() int64 { return h.jwksHits.Load() }

// DiscoveryRequests is the number of configuration documents served so far.
func (h *IssuerHandler) DiscoveryRequests() int64 { return h.discovery.Load() }

func (h *IssuerHandler) base() string {
	u, err := url.Parse(h.Issuer)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// ServeHTTP answers GET for the two documents and 404 for anything else.
func (h *IssuerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.mu.Lock()
	cc, jwks, issuer := h.CacheControl, h.JWKS, h.Issuer
	h.mu.Unlock()
	if cc == "" {
		cc = "public, max-age=300"
	}
	base := h.base()
	switch r.URL.Path {
	case base + "/.well-known/openid-configuration":
		h.discovery.Add(1)
		doc, _ := json.Marshal(map[string]any{
			"issuer":                                issuer,
			"jwks_uri":                              strings.TrimSuffix(issuer, "/") + "/jwks",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "ES384"},
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", cc)
		_, _ = w.Write(doc)
	case base + "/jwks":
		h.jwksHits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", cc)
		_, _ = w.Write(jwks)
	default:
		http.NotFound(w, r)
	}
}
