package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3fed/s3fed/internal/idp"
)

// Defaults of the JWT side of the test IdP.
const (
	idpJWTKeyFile  = "idp-jwt-key.pem"
	idpJWKSFile    = "idp-jwks.json"
	idpIssuerCA    = "idp-issuer-ca.pem"
	idpMaxJWTTTL   = 24 * time.Hour
	idpJWTTTLUsage = "token lifetime, exp − iat (at most 24h, the default maxTokenLifetimeSeconds)"
)

// idpKeygenJWT is `s3fed idp keygen --kind jwt`: a JWT signing key and its
// public JWK Set (what an OIDC config's "jwks" takes).
func idpKeygenJWT(cmd *cobra.Command, keyType, outKey, outJWKS string, force bool) error {
	if keyType == string(idp.KeyRSA2048) && !cmd.Flags().Changed("key-type") {
		keyType = string(idp.JWTKeyRS256)
	}
	if !cmd.Flags().Changed("out-key") {
		outKey = idpJWTKeyFile
	}
	if outKey == outJWKS {
		return errors.New("--out-key and --out-jwks must be different files")
	}
	if !force {
		for _, p := range []string{outKey, outJWKS} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already exists; pass --force to overwrite it", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("check %s: %w", p, err)
			}
		}
	}
	keyPEM, err := idp.KeygenJWT(idp.JWTKeyKind(keyType))
	if err != nil {
		return err
	}
	k, err := idp.ParseJWTKey(keyPEM)
	if err != nil {
		return err
	}
	if err := idpWriteFile(outKey, keyPEM, 0o600); err != nil {
		return err
	}
	if err := idpWriteFile(outJWKS, append(idp.JWKS(k), '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (private key: keep it secret)\nwrote %s (public JWK Set: the OIDC config's \"jwks\")\nkid %s, alg %s\n", outKey, outJWKS, k.KeyID, k.Algorithm)
	return nil
}

func newIdpSignJWTCmd() *cobra.Command {
	var (
		keyFile, issuer, subject, alg, outFile, serve, serveCA string
		audiences, claims                                      []string
		ttl                                                    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sign-jwt --sub SUBJECT --aud AUDIENCE",
		Short: "Sign an OIDC ID token (JWT), print it; optionally serve its issuer's discovery and JWKS",
		Long: `Sign a JWT like an OIDC provider's ID token with the test IdP's JWT key
(from 's3fed idp keygen --kind jwt') and print it, ready for the oidcToken
field of POST /v1/cwobject/temporary-credentials/oidc or 's3fed creds oidc'.

The token has iss (--iss, default ` + idp.DefaultJWTIssuer + `), sub, aud
(one --aud is a string, several an array), iat = now, exp = now + --ttl, and
every --claim NAME=VALUE; VALUE is read as JSON when it parses
(--claim groups='["data-eng","ml"]', --claim n=42), else as a string. The
header names the key's kid (its RFC 7638 thumbprint) and alg (RS256, ES256
or ES384 by key; --alg picks RS384/512 or PS256/384/512 for RSA keys).

--serve ADDR also serves the issuer for trying discovery: an https server on
ADDR (e.g. 127.0.0.1:8443) with a fresh self-signed certificate written to
--serve-ca, answering ISSUER/.well-known/openid-configuration and
ISSUER/jwks; iss defaults to https://ADDR. Start s3fed with
SSL_CERT_FILE=<that file> so it trusts the issuer, create the OIDC config
with issuerUrl https://ADDR and no "jwks". It serves until interrupted.`,
		Example: `  s3fed idp keygen --kind jwt
  s3fed idp sign-jwt --sub system:serviceaccount:data:ingest --aud s3fed
  s3fed idp sign-jwt --sub alice --aud s3fed --claim https://coreweave.com/claims/role=reader --claim groups='["data-eng"]'
  s3fed idp sign-jwt --sub ci --aud s3fed --serve 127.0.0.1:8443 > token.jwt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read --key: %w (run 's3fed idp keygen --kind jwt' first)", err)
			}
			k, err := idp.ParseJWTKey(keyPEM)
			if err != nil {
				return err
			}
			if ttl <= 0 || ttl > idpMaxJWTTTL {
				return fmt.Errorf("--ttl %s out of range: must be positive and at most %s", ttl, idpMaxJWTTTL)
			}
			extra, err := idpParseClaims(claims)
			if err != nil {
				return err
			}
			var ln net.Listener
			if serve != "" {
				if ln, err = net.Listen("tcp", serve); err != nil {
					return fmt.Errorf("--serve: %w", err)
				}
				defer ln.Close()
				if !cmd.Flags().Changed("iss") {
					issuer = "https://" + ln.Addr().String()
				}
			}
			token, err := idp.SignJWT(idp.JWTOptions{Key: k, Algorithm: alg, Issuer: issuer, Subject: subject, Audience: audiences, Lifetime: ttl, Claims: extra})
			if err != nil {
				return err
			}
			if outFile != "" {
				if err := idpWriteFile(outFile, []byte(token+"\n"), 0o600); err != nil {
					return err
				}
			} else if _, err := fmt.Fprintln(cmd.OutOrStdout(), token); err != nil {
				return err
			}
			if ln == nil {
				return nil
			}
			return idpServeIssuer(cmd.Context(), cmd, ln, issuer, idp.JWKS(k), serveCA)
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", idpJWTKeyFile, "PEM JWT signing key (from 'idp keygen --kind jwt')")
	f.StringVar(&issuer, "iss", idp.DefaultJWTIssuer, "iss claim: the OIDC config's issuerUrl (default https://ADDR with --serve)")
	f.StringVar(&subject, "sub", "", "sub claim (required)")
	f.StringArrayVar(&audiences, "aud", nil, "aud claim: the OIDC config's audience; repeat for an array (required)")
	f.StringArrayVar(&claims, "claim", nil, "extra claim NAME=VALUE (VALUE as JSON when it parses); repeatable")
	f.DurationVar(&ttl, "ttl", idp.DefaultJWTLifetime, idpJWTTTLUsage)
	f.StringVar(&alg, "alg", "", "signature algorithm (default by key: RS256, ES256 or ES384)")
	f.StringVar(&outFile, "out", "", "write the token to this file instead of standard output")
	f.StringVar(&serve, "serve", "", "serve discovery and the JWKS over https on this address until interrupted")
	f.StringVar(&serveCA, "serve-ca", idpIssuerCA, "with --serve: where to write the issuer's self-signed certificate")
	_ = cmd.MarkFlagRequired("sub")
	_ = cmd.MarkFlagRequired("aud")
	return cmd
}

// idpParseClaims reads repeated NAME=VALUE flags; VALUE is JSON when it
// parses, else a string. A NAME given twice is an error (a JWT has one
// value per claim).
func idpParseClaims(flags []string) (map[string]any, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	m := map[string]any{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--claim %q: want NAME=VALUE", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--claim %s given twice; use a JSON array for several values", k)
		}
		var j any
		if err := json.Unmarshal([]byte(v), &j); err == nil {
			m[k] = j
		} else {
			m[k] = v
		}
	}
	return m, nil
}

// idpServeIssuer serves the issuer's discovery document and JWKS over https
// on ln with a fresh self-signed certificate (written to caFile) until ctx
// ends.
func idpServeIssuer(ctx context.Context, cmd *cobra.Command, ln net.Listener, issuer string, jwks []byte, caFile string) error {
	cert, certPEM, err := idpIssuerCertificate(ln.Addr())
	if err != nil {
		return err
	}
	if err := idpWriteFile(caFile, certPEM, 0o644); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           &idp.IssuerHandler{Issuer: issuer, JWKS: jwks},
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "issuer: %s\ncertificate: %s (start s3fed with SSL_CERT_FILE=%s to trust it)\nserving discovery and JWKS until interrupted\n", issuer, caFile, caFile)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		return err
	}
}

// idpIssuerCertificate makes a self-signed ECDSA certificate for the
// listener's address (and localhost), usable as its own trust root.
func idpIssuerCertificate(addr net.Addr) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "s3fed test IdP issuer"},
		NotBefore:             time.Now().Add(-5 * time.Minute),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() && !tcp.IP.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, tcp.IP)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
