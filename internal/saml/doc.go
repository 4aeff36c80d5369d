// Package saml validates a SAML 2.0 Response (Web Browser SSO profile, bearer, IdP-initiated)
// against one federation config and returns only values read from cryptographically verified
// content.
//
// It is the security core of s3fed: a single bypass here lets anyone mint storage keys. It
// follows SAML-THREATS.md in three layers, as a strict allow-list:
//
//  1. Byte pre-filter (prefilter.go): size cap before and after base64, strict base64 (CR/LF
//     only), UTF-8 only, no NUL/C0 bytes, no DOCTYPE/entities/PIs, one parse by etree with its
//     ReadSettings (MaxDepth), then a walk enforcing ASCII-NCName names, bound prefixes, no
//     duplicate attributes, unique IDs, element/attribute/namespace limits, xml-roundtrip-validator
//     on every element shape, exactly one samlp:Response root holding exactly one Assertion, and
//     no Assertion or ds:Signature anywhere but the two legitimate places.
//  2. Signature profile (signature.go) on goxmldsig v1.6.1: keys only from Config.Certificates,
//     exactly one direct ds:Signature per signed element with SignedInfo, SignatureValue and an
//     optional KeyInfo, exactly one Reference to "#<parent ID>", Transforms enveloped + exc-c14n,
//     exc-c14n SignedInfo, RSA/ECDSA with SHA-256/384/512, SHA-256/384/512 digests. Every signature
//     present must verify. Values are read only from the element goxmldsig returns.
//  3. Policy (policy.go) on the verified element: Status, Version, Issuer, Destination, bearer
//     Recipient and NotOnOrAfter, Conditions window, AudienceRestriction, IssueInstant bound,
//     NameID shape, attributes as whole text content, then the replay claim.
//
// # Decisions (the rules SAML-THREATS.md leaves open)
//
//   - untrusted_key vs invalid_signature: when no usable trusted certificate verifies a signature,
//     the code is untrusted_key if no trusted certificate is usable at all (all expired, wrong key
//     type or size) or if the signature carried a KeyInfo that does not contain, byte for byte,
//     one of the usable trusted certificates (attacker cert, RSAKeyValue, expired pinned cert).
//     Otherwise (no KeyInfo, or KeyInfo naming a trusted cert) it is invalid_signature.
//   - KeyInfo is never a source of trust and is never parsed: its certificates are only compared
//     with the config's, it is removed before goxmldsig runs, and each usable trusted certificate
//     is tried in turn (the one KeyInfo names first), so rotation works with or without KeyInfo.
//   - Trusted certificates outside their validity period are skipped (an expired pinned cert no
//     longer verifies anything); RSA keys outside 2048..8192 bits are skipped too.
//   - ECDSA SignatureValues are accepted in XML-DSig's raw r||s form and in ASN.1 DER.
//   - The children of Response and Assertion must follow the schema order (Signature right after
//     Issuer). Advice, AuthzDecisionStatement, generic Statement, EncryptedID, BaseID,
//     EncryptedAttribute and ds:Object are refused.
//   - EncryptedAssertion (encrypted.go) is decrypted with the config's DecryptionKeys only and
//     then takes the plaintext path: the Response signature, when present, is verified first and
//     the EncryptedAssertion is taken from the verified tree (so the signature covers every input
//     of the decryption); the plaintext is pre-filtered like a posted document, with a
//     saml:Assertion as its only root and no ID of the Response repeated; a prefix it uses
//     without declaring resolves through the declarations in scope at the EncryptedData (XML
//     Encryption's parse-in-context, which in-place encrypters rely on) and those are then
//     written onto its root; its own signature, if any, must verify; and when the Response is
//     unsigned it must carry one (encryption is not authentication: CVE-2024-4985). A borrowed
//     binding cannot alter signed content: exclusive c14n renders the namespace of every
//     visibly used prefix, so rebinding one breaks the digest.
//   - Decryption allow-list: key transport rsa-oaep-mgf1p and xmlenc11 rsa-oaep (digest
//     SHA-1/256/384/512, MGF1 with SHA-1/224/256/384/512, optional OAEPparams); data aes128-gcm
//     and aes256-gcm. Config.AllowLegacyEncryption adds rsa-1_5 (with RFC 3218 implicit
//     rejection), AES-CBC and 3DES-CBC. Every cryptographic failure is one error text; with CBC
//     (unauthenticated) a plaintext that does not pass the pre-filter is that same error (the
//     Jager-Somorovsky XML-encryption attack feeds on the difference). Timing is not made
//     uniform, which is one more reason legacy algorithms are opt-in.
//   - EncryptedKeys sit in the EncryptedData's KeyInfo or beside the EncryptedData (both SAML
//     core §2.2.4 placements), at most 3; each is tried with each config key, those whose
//     certificate the EncryptedKey's KeyInfo names first. CipherReference, RetrievalMethod
//     (and so OpenSAML's "peer" placement that points at a sibling key with one),
//     AgreementMethod, EncryptionProperties, KeySize, MimeType and Encoding are refused.
//   - Config.RequireEncryptedAssertions refuses a plaintext Assertion.
//   - OneTimeUse is tolerated (the replay cache already makes every assertion single-use);
//     ProxyRestriction is tolerated (s3fed never issues assertions based on this one); each at
//     most once. Any other Condition is refused.
//   - InResponseTo is refused on Response and SubjectConfirmationData: s3fed sends no
//     AuthnRequests, so any InResponseTo is unmatched.
//   - Every SubjectConfirmation must be bearer and every one must satisfy Recipient and
//     NotOnOrAfter (NotBefore honoured when present).
//   - Conditions NotOnOrAfter is required, NotBefore optional. IssueInstant of Response and
//     Assertion must be at most 10 minutes old and at most the skew ahead.
//   - Timestamps are xs:dateTime in UTC ("Z" or a zero offset), optional fractional seconds up
//     to nanoseconds; no zone, other offsets and malformed values are refused.
//   - A SessionNotOnOrAfter already past refuses the assertion (assertion_expired).
//   - Issuer, Destination, Recipient and Audience compare as exact strings; an Issuer Format, if
//     present, must be the entity format.
//   - Element and attribute names must be ASCII NCNames (SAML, XML-DSig and every IdP known use
//     ASCII), which keeps the grammar small and the round-trip classes out.
//   - Errors: *Error (with an API.md Code) for every refusal of the message; a broken Config
//     wraps ErrInvalidConfig and a failing replay cache wraps ErrReplayCacheUnavailable (both
//     server-side, 5xx). Nothing is ever returned together with an error. A panic anywhere below
//     Validate becomes invalid_saml_response.
//
// The package imports no HTTP and no database: the caller supplies the replay cache.
package saml
