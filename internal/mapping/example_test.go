package mapping_test

import (
	"fmt"

	"github.com/s3fed/s3fed/internal/mapping"
	"github.com/s3fed/s3fed/internal/saml"
)

// The JSON exchange maps a verified assertion with the CoreWeave attributes.
func ExampleDefaultSAML() {
	a := &saml.Assertion{
		NameID: "alice@example.com",
		Attributes: map[string][]string{
			mapping.CoreWeaveRoleAttribute: {"reader"},
			"https://example.com/team":     {"ml", "infra"},
		},
	}
	id, err := mapping.DefaultSAML(a, "abc123", "cfg-1")
	fmt.Println(id.PrincipalName, id.Role, err)

	a.Attributes[mapping.CoreWeaveRoleAttribute] = []string{"reader", "writer"}
	_, err = mapping.DefaultSAML(a, "abc123", "cfg-1")
	fmt.Println(err)
	// Output:
	// saml/alice@example.com reader <nil>
	// condition_not_met: attribute https://coreweave.com/SAML/Attributes/Role must have exactly one value, it has 2
}

// AssumeRoleWithSAML picks the Role pair that names the requested RoleArn.
func ExampleAWSSAML() {
	a := &saml.Assertion{Attributes: map[string][]string{
		mapping.AWSRoleAttribute: {
			"arn:aws:iam::abc123:role/reader,arn:aws:iam::abc123:saml-provider/cfg-1",
			"arn:aws:iam::abc123:role/writer,arn:aws:iam::abc123:saml-provider/cfg-1",
		},
		mapping.AWSRoleSessionNameAttribute: {"alice@example.com"},
	}}
	id, err := mapping.AWSSAML(a, "abc123", "cfg-1", "arn:aws:iam::abc123:role/writer")
	fmt.Println(id.PrincipalName, id.Role, err)
	// Output: saml/alice@example.com writer <nil>
}
