package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/s3fed/s3fed/internal/federation"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
)

// DefaultMaxDurationSeconds is a config's maxDurationSeconds when unset, and
// the ceiling of every credential's lifetime (12 hours).
const DefaultMaxDurationSeconds = 43200

// samlConfigInput is the create/patch body. Pointers tell "absent" from
// "zero"; the rule fields that later issues enforce are accepted only to be
// refused, so a config never silently ignores a rule.
type samlConfigInput struct {
	Name                       *string          `json:"name"`
	IdPEntityID                *string          `json:"idpEntityId"`
	Description                *string          `json:"description"`
	X509Certificate            *string          `json:"x509Certificate"`
	Certificates               []string         `json:"certificates"`
	MaxDurationSeconds         *int             `json:"maxDurationSeconds"`
	Active                     *bool            `json:"active"`
	AttributeMapping           *json.RawMessage `json:"attributeMapping"`
	AttributeCondition         *json.RawMessage `json:"attributeCondition"`
	RequireEncryptedAssertions *json.RawMessage `json:"requireEncryptedAssertions"`
}

// configJSON is a config as the API shows it, with the SP values an IdP
// must be configured with.
type configJSON struct {
	store.Config
	CertificateInfo []federation.CertInfo `json:"certificateInfo,omitempty"`
	ACSURL          string                `json:"acsUrl,omitempty"`
	Audience        string                `json:"audience,omitempty"`
}

// ACSURL is where assertions are addressed: their Destination and Recipient.
func ACSURL(publicURL string) string { return strings.TrimRight(publicURL, "/") + "/m2m-saml-acs" }

// Audience is the SP entity ID of an org: every AudienceRestriction must name it.
func Audience(publicURL, org string) string {
	return strings.TrimRight(publicURL, "/") + "/accounts/saml/" + org + "/metadata/"
}

func (a *API) show(c store.Config) configJSON {
	out := configJSON{Config: c}
	if certs, err := federation.ParseStored(c.Certificates); err == nil {
		out.CertificateInfo = federation.Describe(certs, a.now())
	}
	if c.Kind == "saml" && a.PublicURL != "" {
		out.ACSURL = ACSURL(a.PublicURL)
		out.Audience = Audience(a.PublicURL, c.OrgID)
	}
	return out
}

func (in *samlConfigInput) refuseUnsupported() error {
	for field, v := range map[string]*json.RawMessage{
		"attributeMapping":           in.AttributeMapping,
		"attributeCondition":         in.AttributeCondition,
		"requireEncryptedAssertions": in.RequireEncryptedAssertions,
	} {
		if v != nil {
			return jsonapi.BadRequest("field %q is not supported yet: this server would not enforce it, so it refuses the config rather than ignore the rule", field)
		}
	}
	return nil
}

// certificates resolves exactly one of x509Certificate / certificates.
func (in *samlConfigInput) certificates(now time.Time, required bool) ([]string, error) {
	switch {
	case in.X509Certificate != nil && in.Certificates != nil:
		return nil, jsonapi.BadRequest(`send exactly one of "x509Certificate" or "certificates", not both`)
	case in.X509Certificate != nil:
		if _, err := federation.ParseCertificates("x509Certificate", []string{*in.X509Certificate}, now); err != nil {
			return nil, jsonapi.BadRequest("%v", err)
		}
		return []string{strings.TrimSpace(*in.X509Certificate) + "\n"}, nil
	case in.Certificates != nil:
		if _, err := federation.ParseCertificates("certificates", in.Certificates, now); err != nil {
			return nil, jsonapi.BadRequest("%v", err)
		}
		out := make([]string, len(in.Certificates))
		for i, p := range in.Certificates {
			out[i] = strings.TrimSpace(p) + "\n"
		}
		return out, nil
	case required:
		return nil, jsonapi.BadRequest(`one of "x509Certificate" or "certificates" is required: the IdP's signing certificate(s) in PEM`)
	}
	return nil, nil
}

// apply sets the fields present in the input on cfg and validates the
// result; create and patch share it so both enforce the same rules.
func (in *samlConfigInput) apply(cfg *store.Config, now time.Time, create bool) error {
	if in.Name != nil {
		cfg.Name = *in.Name
	}
	if in.IdPEntityID != nil {
		cfg.IdPEntityID = *in.IdPEntityID
	}
	if in.Description != nil {
		cfg.Description = *in.Description
	}
	if in.MaxDurationSeconds != nil {
		if err := checkMaxDuration(*in.MaxDurationSeconds); err != nil {
			return err
		}
		cfg.MaxDurationSeconds = *in.MaxDurationSeconds
	}
	if in.Active != nil {
		cfg.Active = *in.Active
	}
	if err := checkConfigText(*cfg); err != nil {
		return err
	}
	certs, err := in.certificates(now, create)
	if err != nil {
		return err
	}
	if certs != nil {
		cfg.Certificates = certs
	}
	return nil
}

func checkMaxDuration(v int) error {
	if v < 1 || v > DefaultMaxDurationSeconds {
		return jsonapi.BadRequest(`field "maxDurationSeconds" must be from 1 to %d`, DefaultMaxDurationSeconds)
	}
	return nil
}

func (a *API) createSAMLConfig(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	var in samlConfigInput
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := in.refuseUnsupported(); err != nil {
		return err
	}
	if in.Name == nil {
		return jsonapi.BadRequest(`field "name" is required`)
	}
	if in.IdPEntityID == nil {
		return jsonapi.BadRequest(`field "idpEntityId" is required: the IdP's entity ID, which must equal the Issuer of its assertions`)
	}
	now := a.now()
	cfg := store.Config{OrgID: o.ID, ID: NewID(), Kind: "saml", MaxDurationSeconds: DefaultMaxDurationSeconds, Active: true, Created: now, Updated: now}
	if err := in.apply(&cfg, now, true); err != nil {
		return err
	}
	if err := a.audited(r, c, o.ID, "config.create", cfg.ID, func(tx store.Tx, _ *store.Event) error {
		return tx.CreateConfig(r.Context(), cfg)
	}); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusCreated, a.show(cfg))
	return nil
}

func checkConfigText(c store.Config) error {
	if err := checkText("name", c.Name, 1, 256); err != nil {
		return err
	}
	if err := checkText("idpEntityId", c.IdPEntityID, 1, 1024); err != nil {
		return err
	}
	if strings.TrimSpace(c.IdPEntityID) != c.IdPEntityID {
		return jsonapi.BadRequest(`field "idpEntityId" must not start or end with spaces: it is compared exactly with the Issuer`)
	}
	return checkText("description", c.Description, 0, 1024)
}

func (a *API) listConfigs(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	cs, err := a.Store.ListConfigs(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := make([]configJSON, 0, len(cs))
	for _, cfg := range cs {
		out = append(out, a.show(cfg))
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"configs": out})
	return nil
}

// config resolves ORG and CONFIG, with 404 for either.
func (a *API) config(r *http.Request, c Caller, id string) (store.Config, error) {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return store.Config{}, err
	}
	cfg, err := a.Store.GetConfig(r.Context(), o.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return cfg, jsonapi.NotFound("federation config " + quote(id))
	}
	return cfg, err
}

func (a *API) getConfig(w http.ResponseWriter, r *http.Request, c Caller) error {
	cfg, err := a.config(r, c, r.PathValue("config"))
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, a.show(cfg))
	return nil
}

func (a *API) patchConfig(w http.ResponseWriter, r *http.Request, c Caller) error {
	cfg, err := a.config(r, c, r.PathValue("config"))
	if err != nil {
		return err
	}
	var in samlConfigInput
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := in.refuseUnsupported(); err != nil {
		return err
	}
	if err := in.apply(&cfg, a.now(), false); err != nil {
		return err
	}
	cfg.Updated = a.now()
	if err := a.audited(r, c, cfg.OrgID, "config.update", cfg.ID, func(tx store.Tx, _ *store.Event) error {
		return tx.UpdateConfig(r.Context(), cfg)
	}); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, a.show(cfg))
	return nil
}

// deleteConfig deletes a config and revokes every key it issued, in one
// transaction (API.md: deleting a config revokes its keys).
func (a *API) deleteConfig(w http.ResponseWriter, r *http.Request, c Caller) error {
	cfg, err := a.config(r, c, r.PathValue("config"))
	if err != nil {
		return err
	}
	var revoked []string
	err = a.audited(r, c, cfg.OrgID, "config.delete", cfg.ID, func(tx store.Tx, ev *store.Event) error {
		if err := tx.DeleteConfig(r.Context(), cfg.OrgID, cfg.ID); err != nil {
			return err
		}
		var err error
		revoked, err = tx.RevokeAccessKeys(r.Context(), store.RevokeFilter{OrgID: cfg.OrgID, ConfigID: cfg.ID, Now: a.now()})
		ev.Details = map[string]any{"revokedKeys": len(revoked)}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return jsonapi.NotFound("federation config " + quote(cfg.ID))
	}
	if err != nil {
		return err
	}
	a.invalidate(revoked)
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"revoked": len(revoked)})
	return nil
}

// configAction serves "CONFIG:verb" paths (Google-style custom methods).
func (a *API) configAction(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, verb, ok := strings.Cut(r.PathValue("config"), ":")
	if !ok {
		w.Header().Set("Allow", "DELETE, GET, PATCH")
		return jsonapi.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "POST is not allowed on a config; use PATCH to change it or POST .../CONFIG:revoke-keys")
	}
	switch verb {
	case "revoke-keys":
		return a.revokeConfigKeys(w, r, c, id)
	case "test":
		if a.TestConfig == nil {
			return jsonapi.NotFound("action " + quote(verb))
		}
		cfg, err := a.config(r, c, id)
		if err != nil {
			return err
		}
		return a.TestConfig(w, r, cfg)
	}
	return jsonapi.NotFound("action " + quote(verb))
}

func (a *API) revokeConfigKeys(w http.ResponseWriter, r *http.Request, c Caller, id string) error {
	cfg, err := a.config(r, c, id)
	if err != nil {
		return err
	}
	ids, err := a.revoke(r, c, store.RevokeFilter{OrgID: cfg.OrgID, ConfigID: cfg.ID}, "config:"+cfg.ID)
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"revoked": len(ids)})
	return nil
}

func (a *API) invalidate(ids []string) {
	if a.Keys != nil && len(ids) > 0 {
		a.Keys.Invalidate(ids...)
	}
}
