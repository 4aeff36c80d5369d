package admin

import (
	"encoding/xml"
	"net/http"

	"github.com/s3fed/s3fed/internal/jsonapi"
)

// SAML metadata namespaces and bindings (SAML 2.0 Metadata, sections 2.3–2.4).
const (
	nsMetadata      = "urn:oasis:names:tc:SAML:2.0:metadata"
	protocolSAML2   = "urn:oasis:names:tc:SAML:2.0:protocol"
	bindingHTTPPOST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// spMetadata is the SP side of a federation config as an IdP imports it:
// the entity ID is the org's Audience and the one ACS is the Destination
// and Recipient every assertion must carry.
type spMetadata struct {
	XMLName  xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	EntityID string   `xml:"entityID,attr"`
	SP       struct {
		AuthnRequestsSigned        bool   `xml:"AuthnRequestsSigned,attr"`
		WantAssertionsSigned       bool   `xml:"WantAssertionsSigned,attr"`
		ProtocolSupportEnumeration string `xml:"protocolSupportEnumeration,attr"`
		NameIDFormat               []string
		ACS                        struct {
			Binding   string `xml:"Binding,attr"`
			Location  string `xml:"Location,attr"`
			Index     int    `xml:"index,attr"`
			IsDefault bool   `xml:"isDefault,attr"`
		} `xml:"AssertionConsumerService"`
	} `xml:"SPSSODescriptor"`
}

func (a *API) spMetadata(w http.ResponseWriter, r *http.Request, c Caller) error {
	cfg, err := a.config(r, c, r.PathValue("config"))
	if err != nil {
		return err
	}
	if cfg.Kind != "saml" {
		return jsonapi.NotFound("SAML federation config " + quote(cfg.ID))
	}
	var md spMetadata
	md.EntityID = Audience(a.PublicURL, cfg.OrgID)
	md.SP.WantAssertionsSigned = true
	md.SP.ProtocolSupportEnumeration = protocolSAML2
	md.SP.NameIDFormat = []string{
		"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
		"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
	}
	md.SP.ACS.Binding = bindingHTTPPOST
	md.SP.ACS.Location = ACSURL(a.PublicURL)
	md.SP.ACS.IsDefault = true
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `attachment; filename="s3fed-`+cfg.OrgID+`-sp-metadata.xml"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
	_, _ = w.Write([]byte("\n"))
	return nil
}
