package idp_test

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/s3fed/s3fed/internal/idp"
)

// Make a signing key, then sign a Response for org abc123 as a real IdP
// would; the base64 goes into the exchange's samlResponse field.
func ExampleSign() {
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{KeyType: idp.KeyECDSAP256})
	if err != nil {
		panic(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	b64, err := idp.SignBase64(idp.SignOptions{
		KeyPair:   kp,
		OrgID:     "abc123",
		Principal: "alice@example.com",
		Role:      "reader",
	})
	if err != nil {
		panic(err)
	}
	x, _ := base64.StdEncoding.DecodeString(b64)
	fmt.Println(idp.DefaultIssuer(kp.Cert))
	fmt.Println(strings.Contains(string(x), "<saml:Audience>http://127.0.0.1:9001/accounts/saml/abc123/metadata/</saml:Audience>"))
	fmt.Println(strings.Count(string(x), "<ds:Signature "))
	// Output:
	// s3fed-test-idp
	// true
	// 2
}
