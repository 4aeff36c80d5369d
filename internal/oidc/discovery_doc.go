package oidc

import (
	"fmt"
	"net/url"
	"strings"
)

// MaxDiscoveryBytes caps an OpenID Provider configuration document
// (Google's is about 1.3 KiB, Entra ID's about 1.7 KiB).
const MaxDiscoveryBytes = 64 << 10

// DiscoveryURL is where an issuer's configuration is published (OpenID
// Connect Discovery 1.0 §4: a terminating "/" of the issuer is removed
// before appending the well-known path).
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// ParseDiscoveryDocument reads an OpenID Provider configuration and returns
// its jwks_uri. The document's "issuer" must be identical to wantIssuer
// (OpenID Connect Discovery §4.3: this is what stops one issuer's document
// from steering another's keys), and jwks_uri must be an absolute URL
// without user info or fragment; which schemes may be fetched is the
// fetcher's rule. Only the two members are read; the document is strict
// JSON all the same.
func ParseDiscoveryDocument(data []byte, wantIssuer string) (string, error) {
	if len(data) > MaxDiscoveryBytes {
		return "", fmt.Errorf("discovery document is %d bytes, at most %d allowed", len(data), MaxDiscoveryBytes)
	}
	doc, err := decodeStrictObject(data)
	if err != nil {
		return "", fmt.Errorf("discovery document: %v", err)
	}
	iss, ok := doc["issuer"].(string)
	if !ok {
		return "", fmt.Errorf(`discovery document: "issuer" is missing or not a string`)
	}
	if iss != wantIssuer {
		return "", fmt.Errorf("discovery document names issuer %s, not the config's %s", quote(iss), quote(wantIssuer))
	}
	jwks, ok := doc["jwks_uri"].(string)
	if !ok || jwks == "" {
		return "", fmt.Errorf(`discovery document: "jwks_uri" is missing or not a string`)
	}
	u, err := url.Parse(jwks)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("discovery document: jwks_uri %s is not an absolute URL without user info or fragment", quote(jwks))
	}
	return jwks, nil
}
