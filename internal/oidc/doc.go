// Package oidc verifies OpenID Connect ID tokens (and other JWTs such as
// Kubernetes service-account and CI tokens) against one federation config
// and returns only values read from a payload whose signature verified with
// one of the config's keys.
//
// Like package saml it is part of the exchange's security core, an
// allow-list that fails closed, and it imports no HTTP: keys reach it
// through the KeySource interface, implemented by StaticKeys (an uploaded
// "jwks": nothing is ever fetched) and by package oidc/discovery (the only
// code that talks HTTP, and which imports this package, never the other
// way round).
//
// # The token profile (API.md "OIDC configs", SAML-THREATS.md's OIDC part)
//
//   - At most MaxTokenBytes (16 KiB), checked first. JWS compact
//     serialisation only: exactly three parts of unpadded, canonical
//     base64url; JWS JSON serialisation, JWE (five parts, or JWE header
//     members), padding, whitespace and trailing bytes are refused.
//   - Header and payload are strict JSON (decodeStrictObject): duplicate
//     member names at any depth, invalid UTF-8 and trailing data are
//     refused, and members are read by exact name (never the
//     case-insensitive struct matching of encoding/json).
//   - alg is one of Algorithms (RS256/384/512, PS256/384/512, ES256/384);
//     "none", HS*, EdDSA and anything else are invalid_signature. The key
//     must fit alg (RSA for RS/PS, P-256 for ES256, P-384 for ES384, and the
//     JWK's own alg when it names one), so a public key can never be used as
//     an HMAC secret.
//   - jku, jwk, x5u and x5c are refused outright rather than ignored: keys
//     come only from the config, and a token that tries to supply its own is
//     an attack, not an IdP quirk (no mainstream IdP puts them in ID
//     tokens). x5t and typ are ignored. crit and b64 are refused (no
//     extension is supported), and so is cty: a nested JWT is not an ID
//     token.
//   - kid chooses among the config's keys. An unknown kid asks the
//     KeySource once for fresh keys (discovery rate-limits that to once a
//     minute), then is untrusted_key. A token without kid is tried against
//     every config key that fits its alg: each of them is trusted equally,
//     so trying them all grants nothing a kid would not, and single-key
//     issuers that omit kid (older Kubernetes, hand-rolled CI issuers)
//     keep working. Sets are capped at MaxJWKSKeys, which bounds the work.
//   - iss equals the config's issuerUrl exactly (no trailing-slash or case
//     folding); aud is a string or a non-empty array of strings containing
//     the config's audience exactly.
//   - sub is required and must be a non-empty string (a number or object is
//     refused, never converted); iss, exp and iat are required; exp, iat
//     and nbf are JSON numbers (fractions allowed) between 0 and year 9999.
//   - exp − iat must be positive and at most maxTokenLifetimeSeconds
//     (default 86,400). With skew s: refused when now ≥ exp + s, now <
//     nbf − s, now < iat − s, or now − iat > 24 h + s.
//   - Tokens are not single-use (API.md): AWS STS and GCP accept the same
//     service-account or CI token until it expires, and the
//     container-credentials flow refreshes with it.
//
// # Decisions the contract leaves open
//
//   - azp is not compared with the audience. Google's service-account ID
//     tokens carry the account's numeric ID in azp while aud is the
//     requested audience, so OpenID Connect Core's client-side azp rule
//     would refuse them; a config that wants azp pinned says so in its
//     attributeCondition (assertion.azp == '…'). azp must be a string when
//     present, and Token.AuthorizedParty carries it.
//   - Error codes: malformed or out-of-profile tokens (size, shape, JSON,
//     header members, claim types, lifetime) are invalid_oidc_token (400);
//     a refused algorithm, a missing signature, a kid whose key cannot
//     verify alg, or a signature that does not verify is invalid_signature;
//     a kid not in the set (after one refresh) or no key fitting alg is
//     untrusted_key; exp and a stale iat are assertion_expired; nbf and a
//     future iat are assertion_not_yet_valid.
//   - Order: shape, header, key choice and signature come before any claim
//     is read, so every claim-based answer is about verified content.
//   - A config whose KeySource has no keys at all fails closed with an
//     error wrapping ErrKeysUnavailable (server side, 5xx), not a refusal
//     of the token. A panic anywhere below Verify becomes
//     invalid_oidc_token and is counted (tests require zero).
//
// The verifier holds no state between calls; a Config can be built once per
// config version and shared.
package oidc
