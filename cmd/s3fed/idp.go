package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3fed/s3fed/internal/idp"
)

// idpDefaultPublicURL is s3fed serve's default --public-url (the default API
// listener), so `idp sign` matches a server started with no flags.
const idpDefaultPublicURL = "http://127.0.0.1:9001"

// newIdpCmd is `s3fed idp`: a built-in test identity provider, so an
// operator can try a federation setup end to end without a real IdP.
func newIdpCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "idp",
		Short: "A test identity provider: make a signing key and sign SAML responses",
		Long: `A built-in test identity provider for trying s3fed without a real IdP.

  s3fed idp keygen                       # writes idp-cert.pem and idp-key.pem
  # create a SAML config for ORG with idpEntityId "s3fed-test-idp" and
  # x509Certificate = the contents of idp-cert.pem, then:
  s3fed idp sign --org ORG --principal alice@example.com --role reader

The signed response is printed as base64, ready for the samlResponse field of
POST /v1/cwobject/temporary-credentials/saml or for 's3fed creds saml'.

For OIDC: 's3fed idp keygen --kind jwt' writes a JWT key and its JWK Set (the
OIDC config's "jwks"); 's3fed idp sign-jwt --sub NAME --aud AUDIENCE' prints
a signed token (and with --serve, serves discovery for it).
Nothing in the server trusts this tool; it only signs with the key you give it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newIdpKeygenCmd(), newIdpSignCmd(), newIdpSignJWTCmd())
	return cmd
}

func newIdpKeygenCmd() *cobra.Command {
	var (
		outCert, outKey, keyType, cn string
		kind, outJWKS                string
		days                         int
		force                        bool
	)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a self-signed IdP signing certificate and private key",
		Long: `Make a self-signed signing certificate and private key for the test IdP.

The certificate (PEM) is what you upload as the SAML config's x509Certificate;
its CN (--cn, default "s3fed-test-idp") is the Issuer 's3fed idp sign' uses by
default, so use it as the config's idpEntityId. The private key is written as
PKCS#8 PEM with mode 0600. Existing files are not overwritten without --force.

Key types: rsa2048 (default), rsa3072, rsa4096, ecdsa-p256. Validity: --days,
default 365, at most 5110 (14 years: federation configs refuse certificates
valid longer).

--kind jwt makes a JWT signing key for 's3fed idp sign-jwt' instead: the
private key (--out-key, default idp-jwt-key.pem) and its public JWK Set
(--out-jwks, default idp-jwks.json) to upload as an OIDC config's "jwks".
Key types: rs256 (default), es256, es384.`,
		Example: `  s3fed idp keygen
  s3fed idp keygen --key-type ecdsa-p256 --cn corp-test-idp --out-cert corp.pem --out-key corp-key.pem
  s3fed idp keygen --kind jwt --key-type es256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true // flags parsed: errors from here on are not usage errors
			switch kind {
			case "jwt":
				return idpKeygenJWT(cmd, keyType, outKey, outJWKS, force)
			case "saml":
			default:
				return fmt.Errorf("--kind %q: want saml or jwt", kind)
			}
			if days < 1 || days > 5110 {
				return fmt.Errorf("--days %d out of range 1..5110", days)
			}
			if outCert == outKey {
				return errors.New("--out-cert and --out-key must be different files")
			}
			if !force {
				for _, p := range []string{outCert, outKey} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s already exists; pass --force to overwrite it", p)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("check %s: %w", p, err)
					}
				}
			}
			certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{
				KeyType:    idp.KeyType(keyType),
				CommonName: cn,
				Validity:   time.Duration(days) * 24 * time.Hour,
			})
			if err != nil {
				return err
			}
			if err := idpWriteFile(outKey, keyPEM, 0o600); err != nil {
				return err
			}
			if err := idpWriteFile(outCert, certPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (certificate: upload it as the SAML config's x509Certificate)\nwrote %s (private key: keep it secret)\nIdP entity ID (default Issuer): %s\n", outCert, outKey, cn)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&outCert, "out-cert", "idp-cert.pem", "where to write the PEM certificate")
	f.StringVar(&outKey, "out-key", "idp-key.pem", "where to write the PEM private key (mode 0600)")
	f.StringVar(&keyType, "key-type", string(idp.KeyRSA2048), "key type: rsa2048, rsa3072, rsa4096 or ecdsa-p256")
	f.StringVar(&cn, "cn", idp.DefaultCommonName, "certificate common name; also the default Issuer of 'idp sign'")
	f.IntVar(&days, "days", 365, "certificate validity in days (1..5110)")
	f.BoolVar(&force, "force", false, "overwrite existing output files")
	f.StringVar(&kind, "kind", "saml", "saml (certificate and key for 'idp sign') or jwt (key and JWKS for 'idp sign-jwt'; key types rs256, es256, es384)")
	f.StringVar(&outJWKS, "out-jwks", idpJWKSFile, "with --kind jwt: where to write the public JWK Set")
	return cmd
}

func newIdpSignCmd() *cobra.Command {
	var (
		o                           idp.SignOptions
		certFile, keyFile, signMode string
		attrs                       []string
		outFile                     string
		rawXML, xmlDecl             bool
		awsProvider                 string
		encryptTo, keyTransport     string
		dataEncryption              string
	)
	cmd := &cobra.Command{
		Use:   "sign --org ORG --principal NAME --role ROLE",
		Short: "Sign a SAML Response for a principal and role, print it as base64",
		Long: `Build a SAML 2.0 Response like a real IdP's and sign it with the test IdP key.

The Response carries an Assertion with the NameID (format emailAddress) set to
--principal, a bearer SubjectConfirmation, Conditions with an
AudienceRestriction, an AuthnStatement and the attributes
https://coreweave.com/SAML/Attributes/Role (--role) and
https://coreweave.com/SAML/Attributes/PrincipalName (--principal), plus every
--attribute. Signatures use exclusive C14N and RSA-SHA256 (ECDSA-SHA256 for EC
keys); --sign chooses response, assertion or both (default, as in the
CoreWeave documentation's example).

Defaults match the s3fed server's SAML service-provider URLs:
  Issuer       the certificate's CN ("s3fed-test-idp" from 'idp keygen';
               "s3fed-test-idp" when the CN is empty)
  Destination  <public-url>/m2m-saml-acs (also the Recipient)
  Audience     <public-url>/accounts/saml/<org>/metadata/
  public-url   $S3FED_PUBLIC_URL, else $S3FED_API (the server's default
               --public-url is its API address), else http://127.0.0.1:9001
The assertion is valid from now for --ttl (default 5m, at most 24h).

--encrypt-to CERT encrypts the Assertion to a SAML config's encryption key
certificate (from 's3fed admin config keys describe'), as an IdP configured
with that certificate does: the Assertion is signed first, then encrypted, and
the Response signature covers the ciphertext. --key-transport is rsa-oaep
(default: XML Encryption 1.1 RSA-OAEP, SHA-256, MGF1-SHA-256), rsa-oaep-mgf1p
or rsa-1_5; --data-encryption is aes256-gcm (default), aes128-gcm, or the
legacy aes256-cbc, aes192-cbc, aes128-cbc, tripledes-cbc (rsa-1_5 and the CBC
modes are accepted only by configs with allowLegacyEncryption).`,
		Example: `  s3fed idp sign --org abc123 --principal alice@example.com --role reader
  s3fed idp sign --org abc123 --principal ci-bot --role writer --attribute team=ml --attribute team=infra
  s3fed idp sign --org abc123 --principal alice@example.com --role reader --sign assertion --xml
  s3fed idp sign --org abc123 --principal alice@example.com --role reader --encrypt-to enc-cert.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true // flags parsed: errors from here on are not usage errors
			certPEM, err := os.ReadFile(certFile)
			if err != nil {
				return fmt.Errorf("read --cert: %w (run 's3fed idp keygen' first)", err)
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read --key: %w", err)
			}
			kp, err := idp.ParseKeyPair(certPEM, keyPEM)
			if err != nil {
				return err
			}
			o.KeyPair = kp
			switch idp.SignMode(signMode) {
			case idp.SignResponse, idp.SignAssertion, idp.SignBoth:
				o.Sign = idp.SignMode(signMode)
			default:
				return fmt.Errorf("--sign %q: want response, assertion or both", signMode)
			}
			if o.Role == "" {
				return errors.New("--role is required (the Role attribute must have exactly one value)")
			}
			if o.TTL <= 0 {
				return fmt.Errorf("--ttl %s must be positive", o.TTL)
			}
			if o.SessionTTL < 0 {
				return fmt.Errorf("--session-ttl %s must not be negative", o.SessionTTL)
			}
			if o.Attributes, err = idpParseAttributes(attrs); err != nil {
				return err
			}
			if awsProvider != "" {
				o.Attributes = idpAddAWSAttributes(o.Attributes, o.OrgID, o.Role, awsProvider, o.Principal)
			}
			o.XMLDeclaration = xmlDecl
			if encryptTo != "" {
				if o.EncryptTo, err = idpReadCert(encryptTo); err != nil {
					return err
				}
				o.KeyTransport, o.DataEncryption = idp.KeyTransport(keyTransport), idp.DataEncryption(dataEncryption)
			} else if cmd.Flags().Changed("key-transport") || cmd.Flags().Changed("data-encryption") {
				return errors.New("--key-transport and --data-encryption need --encrypt-to")
			}
			x, err := idp.Sign(o)
			if err != nil {
				return err
			}
			out := idp.Base64(x) + "\n"
			if rawXML {
				out = string(x) + "\n"
			}
			if outFile != "" {
				return idpWriteFile(outFile, []byte(out), 0o600)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.OrgID, "org", "", "s3fed organisation ID (names the default audience) (required)")
	f.StringVar(&o.Principal, "principal", "", "principal: NameID and PrincipalName attribute, e.g. alice@example.com (required)")
	f.StringVar(&o.Role, "role", "", "value of the Role attribute (required)")
	f.StringVar(&o.Issuer, "issuer", "", "IdP entity ID (default: the certificate's CN)")
	f.StringVar(&o.PublicURL, "public-url", idpPublicURL(), "s3fed --public-url the SP URLs derive from (default $S3FED_PUBLIC_URL, else $S3FED_API, else "+idpDefaultPublicURL+")")
	f.StringVar(&awsProvider, "aws-saml-provider", "", "also add AWS's Role attribute (arn:aws:iam::ORG:role/ROLE,arn:aws:iam::ORG:saml-provider/CONFIG) and RoleSessionName (--principal), for aws sts assume-role-with-saml; the value is the config ID")
	f.StringVar(&o.Audience, "audience", "", "Audience (default <public-url>/accounts/saml/<org>/metadata/)")
	f.StringVar(&o.Destination, "destination", "", "Destination and Recipient (default <public-url>/m2m-saml-acs)")
	f.StringVar(&o.Recipient, "recipient", "", "SubjectConfirmationData Recipient if it must differ from --destination")
	f.DurationVar(&o.TTL, "ttl", idp.DefaultTTL, "assertion lifetime (at most 24h)")
	f.DurationVar(&o.SessionTTL, "session-ttl", 0, "add SessionNotOnOrAfter = now + this (0 omits it; credentials are clamped to it)")
	f.StringVar(&signMode, "sign", string(idp.SignBoth), "what to sign: response, assertion or both")
	f.StringVar(&certFile, "cert", "idp-cert.pem", "PEM signing certificate (placed in KeyInfo)")
	f.StringVar(&keyFile, "key", "idp-key.pem", "PEM private key (PKCS#8, PKCS#1 or SEC 1)")
	f.StringArrayVar(&attrs, "attribute", nil, "extra attribute NAME=VALUE; repeat a NAME for several values")
	f.StringVar(&outFile, "out", "", "write to this file instead of standard output")
	f.BoolVar(&rawXML, "xml", false, "print the signed XML instead of base64")
	f.BoolVar(&xmlDecl, "xml-declaration", false, "start the document with an <?xml ...?> declaration, as some IdPs do")
	f.StringVar(&encryptTo, "encrypt-to", "", "encrypt the Assertion to this PEM certificate (a SAML config's encryption key)")
	f.StringVar(&keyTransport, "key-transport", string(idp.DefaultKeyTransport), "with --encrypt-to: rsa-oaep, rsa-oaep-mgf1p or rsa-1_5 (legacy)")
	f.StringVar(&dataEncryption, "data-encryption", string(idp.DefaultDataEncryption), "with --encrypt-to: aes256-gcm, aes128-gcm, or legacy aes256-cbc, aes192-cbc, aes128-cbc, tripledes-cbc")
	for _, name := range []string{"org", "principal", "role"} {
		_ = cmd.MarkFlagRequired(name) // the flags exist; the error cannot happen
	}
	return cmd
}

// idpPublicURL is the default --public-url of 'idp sign': the server's
// --public-url defaults to its API address, so an operator who pointed the
// CLI at a server with S3FED_API (a non-default port, say) gets matching
// Destination and Audience without setting anything else.
func idpPublicURL() string {
	for _, env := range []string{"S3FED_PUBLIC_URL", "S3FED_API"} {
		if v := strings.TrimSpace(os.Getenv(env)); v != "" {
			return v
		}
	}
	return idpDefaultPublicURL
}

// AWS's SAML attributes that AssumeRoleWithSAML reads (AWS IAM "Configure
// SAML assertions for the authentication response").
const (
	awsRoleAttribute        = "https://aws.amazon.com/SAML/Attributes/Role"
	awsSessionNameAttribute = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
)

// idpAddAWSAttributes adds the attributes AssumeRoleWithSAML needs, so the
// test IdP can sign for the AWS STS endpoint as well as for the JSON one.
func idpAddAWSAttributes(attrs map[string][]string, org, role, config, principal string) map[string][]string {
	if attrs == nil {
		attrs = map[string][]string{}
	}
	attrs[awsRoleAttribute] = append(attrs[awsRoleAttribute],
		"arn:aws:iam::"+org+":role/"+role+",arn:aws:iam::"+org+":saml-provider/"+config)
	if len(attrs[awsSessionNameAttribute]) == 0 {
		attrs[awsSessionNameAttribute] = []string{principal}
	}
	return attrs
}

// idpReadCert reads the one PEM certificate --encrypt-to names.
func idpReadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --encrypt-to: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("--encrypt-to %s: want exactly one PEM CERTIFICATE", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--encrypt-to %s: %w", path, err)
	}
	return c, nil
}

// idpParseAttributes turns repeated NAME=VALUE flags into a multi-valued
// attribute map, keeping the order in which values were given.
func idpParseAttributes(flags []string) (map[string][]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	m := map[string][]string{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--attribute %q: want NAME=VALUE", kv)
		}
		m[k] = append(m[k], v)
	}
	return m, nil
}

// idpWriteFile writes via a temporary file in the same directory and a
// rename, so an interrupted run never leaves a truncated key or certificate.
func idpWriteFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".s3fed-idp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
