package saml

import "github.com/beevik/etree"

// decryptAssertion is the seam for saml:EncryptedAssertion (SAML-THREATS.md, "Encrypted
// assertions"). No config can enable decryption yet, so every EncryptedAssertion is refused.
//
// When it is implemented it must: take the SP decryption keys from the config only; allow key
// transport xmlenc#rsa-oaep-mgf1p and xmlenc11#rsa-oaep (honouring its MGF) and data aes128-gcm /
// aes256-gcm, with rsa-1_5, CBC and 3DES only on explicit opt-in and then one uniform error for
// every failure; refuse CipherReference, RetrievalMethod and AgreementMethod; never panic on a
// ciphertext of any length; run the decrypted bytes through prefilter-equivalent checks (one
// saml:Assertion, no DOCTYPE); graft the plaintext Assertion in place of the EncryptedAssertion
// and then continue with the normal signature rules: encryption is not authentication, so the
// decrypted Assertion must be signed by a trusted key or sit in a signed Response (whose
// signature covers the EncryptedAssertion, so a signed Response is verified before decrypting).
func (v *validator) decryptAssertion(enc *etree.Element) (*etree.Element, error) {
	_ = enc
	return nil, refuse(CodeInvalidResponse, "encrypted assertions not supported by this config")
}
