package admin

import (
	"net/http"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
)

// accessKeyJSON is an inventory row: never a secret.
type accessKeyJSON struct {
	AccessKeyID   string            `json:"accessKeyId"`
	PrincipalName string            `json:"principalName"`
	Role          string            `json:"role"`
	Groups        []string          `json:"groups,omitempty"`
	ConfigID      string            `json:"configId"`
	Status        string            `json:"status"`
	Issued        string            `json:"issued"`
	Expiry        string            `json:"expiry"`
	Attributes    map[string]string `json:"attributes"`
}

// KeyStatus is an access key's lifecycle state at a given time.
func KeyStatus(k store.AccessKey, now time.Time) string {
	switch {
	case k.Revoked:
		return "REVOKED"
	case !now.Before(k.Expiry):
		return "EXPIRED"
	default:
		return "ACTIVE"
	}
}

func (a *API) listAccessKeys(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.AccessKeyFilter{OrgID: o.ID, PrincipalName: q.Get("principalName"), ConfigID: q.Get("configId"), Status: q.Get("status"), Now: a.now(), Limit: 1000}
	switch f.Status {
	case "", "ACTIVE", "EXPIRED", "REVOKED":
	default:
		return jsonapi.BadRequest(`"status" must be ACTIVE, EXPIRED or REVOKED`)
	}
	if s := q.Get("limit"); s != "" {
		n, err := parseIntRange("limit", s, 1, 10000)
		if err != nil {
			return err
		}
		f.Limit = n
	}
	keys, err := a.Store.ListAccessKeys(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]accessKeyJSON, 0, len(keys))
	for _, k := range keys {
		tags := k.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, accessKeyJSON{AccessKeyID: k.ID, PrincipalName: k.PrincipalName, Role: k.Role, Groups: k.Groups,
			ConfigID: k.ConfigID, Status: KeyStatus(k, f.Now), Issued: k.Issued.UTC().Format("2006-01-02T15:04:05Z"),
			Expiry: k.Expiry.UTC().Format("2006-01-02T15:04:05Z"), Attributes: tags})
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"accessKeys": out})
	return nil
}

// revoke marks keys revoked, audits it, and drops them from the cache.
func (a *API) revoke(r *http.Request, c Caller, f store.RevokeFilter, target string) ([]string, error) {
	f.Now = a.now()
	var ids []string
	err := a.audited(r, c, f.OrgID, "access-key.revoke", target, func(tx store.Tx, ev *store.Event) error {
		var err error
		ids, err = tx.RevokeAccessKeys(r.Context(), f)
		ev.PrincipalName, ev.AccessKeyID = f.PrincipalName, f.AccessKeyID
		ev.Details = map[string]any{"revoked": len(ids)}
		return err
	})
	if err != nil {
		return nil, err
	}
	a.invalidate(ids)
	return ids, nil
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request, c Caller) error {
	var in struct {
		AccessKey string `json:"accessKey"`
		OrgID     string `json:"orgId"`
	}
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.AccessKey == "" {
		return jsonapi.BadRequest(`field "accessKey" is required`)
	}
	o, err := a.OrgFor(r.Context(), c, in.OrgID)
	if err != nil {
		return err
	}
	k, err := a.Store.GetAccessKey(r.Context(), in.AccessKey)
	if err != nil || k.OrgID != o.ID {
		// Unknown keys and other orgs' keys look the same.
		return jsonapi.NotFound("access key")
	}
	if _, err := a.revoke(r, c, store.RevokeFilter{OrgID: o.ID, AccessKeyID: k.ID}, "access-key:"+k.ID); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) revokePrincipal(w http.ResponseWriter, r *http.Request, c Caller) error {
	var in struct {
		PrincipalName string `json:"principalName"`
		OrgID         string `json:"orgId"`
	}
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.PrincipalName == "" {
		return jsonapi.BadRequest(`field "principalName" is required, e.g. "saml/alice@example.com"`)
	}
	if err := checkName("principalName", in.PrincipalName); err != nil {
		return err
	}
	o, err := a.OrgFor(r.Context(), c, in.OrgID)
	if err != nil {
		return err
	}
	if _, err := a.revoke(r, c, store.RevokeFilter{OrgID: o.ID, PrincipalName: in.PrincipalName}, "principal:"+in.PrincipalName); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// checkName holds a name an admin gives (a principal, role or group) to the
// rule every name entering s3fed follows (identity.CheckName), so that no
// invisible or reordering character reaches the audit log through the API.
func checkName(field, value string) error {
	if err := identity.CheckName(value); err != nil {
		return jsonapi.BadRequest("field %q: %v", field, err)
	}
	return nil
}
