package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/store"
)

// Policies keeps the compiled access policies of every org in step with the
// store: a write is validated, compiled together with the org's other
// documents, committed with its audit event and only then swapped in, so a
// refused write leaves the previous policies in force.
type Policies struct {
	Set *policy.Set

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (p *Policies) lock(org string) func() {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l, ok := p.locks[org]
	if !ok {
		l = &sync.Mutex{}
		p.locks[org] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// LoadAll compiles every org's stored policies, at start-up.
func (p *Policies) LoadAll(ctx context.Context, st store.Reader) error {
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		if err := p.Reload(ctx, st, o.ID); err != nil {
			return err
		}
	}
	return nil
}

// Reload recompiles one org from the store.
func (p *Policies) Reload(ctx context.Context, st store.Reader, org string) error {
	docs, err := storedDocs(ctx, st, org, "", nil)
	if err != nil {
		return err
	}
	if _, err := p.Set.Replace(org, docs); err != nil {
		return fmt.Errorf("compile policies of org %s: %w", org, err)
	}
	return nil
}

// storedDocs parses an org's stored documents, with doc replacing (or, when
// nil, removing) the one called name.
func storedDocs(ctx context.Context, st store.Reader, org, name string, doc *policy.Document) ([]*policy.Document, error) {
	stored, err := st.ListPolicies(ctx, org)
	if err != nil {
		return nil, err
	}
	var docs []*policy.Document
	for _, sp := range stored {
		if sp.Name == name {
			continue
		}
		d, err := policy.ParseDocument(sp.Document)
		if err != nil {
			return nil, fmt.Errorf("stored policy %s/%s: %w", org, sp.Name, err)
		}
		docs = append(docs, d)
	}
	if doc != nil {
		docs = append(docs, doc)
	}
	return docs, nil
}

// policyError turns a parse error into invalid_argument with every problem.
func policyError(err error) error {
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		return &jsonapi.Error{Status: http.StatusBadRequest, Code: "invalid_argument", Message: ve.Error(),
			Details: map[string]any{"problems": ve.Problems}}
	}
	if errors.Is(err, policy.ErrInvalidJSON) {
		return jsonapi.Errorf(http.StatusBadRequest, "invalid_json", "%v", err)
	}
	return jsonapi.BadRequest("%v", err)
}

func (a *API) registerPolicies(rt *jsonapi.Router) {
	rt.Handle("GET", "/v1/admin/orgs/{org}/access-policies", a.authed(a.listPolicies))
	rt.Handle("GET", "/v1/admin/orgs/{org}/access-policies/{name}", a.authed(a.getPolicy))
	rt.Handle("PUT", "/v1/admin/orgs/{org}/access-policies/{name}", a.authed(a.putPolicy))
	rt.Handle("DELETE", "/v1/admin/orgs/{org}/access-policies/{name}", a.authed(a.deletePolicy))
	rt.Handle("POST", "/v1/admin/orgs/{org}/access-policies:simulate", a.authed(a.simulatePolicy))
	rt.Handle("POST", "/v1/cwobject/access-policy", a.authed(a.cwPutPolicy))
}

// readBody reads a JSON body within the admin limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := jsonapi.RequireContentType(r, "application/json"); err != nil {
		return nil, err
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, jsonapi.Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than the limit of %d bytes", MaxBodyBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, jsonapi.Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than the limit of %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, err
	}
	return data, jsonapi.CheckUTF8(data)
}

func (a *API) putPolicy(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	doc, err := policy.ParseDocument(data)
	if err != nil {
		return policyError(err)
	}
	if name := r.PathValue("name"); doc.Name != name {
		return jsonapi.BadRequest("the document's name %q differs from the name in the path %q", doc.Name, name)
	}
	status, err := a.storePolicy(r, c, o.ID, doc)
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, status, doc)
	return nil
}

// cwPutPolicy is CoreWeave's create-or-replace: {"policy": {...}} on the
// caller's org (the root token names it with "orgId").
func (a *API) cwPutPolicy(w http.ResponseWriter, r *http.Request, c Caller) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Policy json.RawMessage `json:"policy"`
		OrgID  string          `json:"orgId"`
	}
	if err := strictJSON(data, &in); err != nil {
		return err
	}
	if len(in.Policy) == 0 {
		return jsonapi.BadRequest(`field "policy" is required: the access policy document`)
	}
	o, err := a.OrgFor(r.Context(), c, in.OrgID)
	if err != nil {
		return err
	}
	doc, err := policy.ParseDocument(in.Policy)
	if err != nil {
		return policyError(err)
	}
	if _, err := a.storePolicy(r, c, o.ID, doc); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"policy": doc})
	return nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return jsonapi.Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON: %v", err)
		}
		return jsonapi.BadRequest("%v", err)
	}
	if dec.More() {
		return jsonapi.Errorf(http.StatusBadRequest, "invalid_json", "request body has data after the JSON object")
	}
	return nil
}

// storePolicy compiles the org's documents with doc, commits, then swaps.
// It answers 201 for a new document and 200 for a replaced one.
func (a *API) storePolicy(r *http.Request, c Caller, org string, doc *policy.Document) (int, error) {
	unlock := a.Policies.lock(org)
	defer unlock()
	ctx := r.Context()
	docs, err := storedDocs(ctx, a.Store, org, doc.Name, doc)
	if err != nil {
		return 0, err
	}
	eng, err := policy.Compile(org, docs)
	if err != nil {
		return 0, policyError(err)
	}
	body, err := policy.Marshal(doc)
	if err != nil {
		return 0, err
	}
	status := http.StatusOK
	if _, err := a.Store.GetPolicy(ctx, org, doc.Name); errors.Is(err, store.ErrNotFound) {
		status = http.StatusCreated
	}
	if err := a.audited(r, c, org, "policy.put", doc.Name, func(tx store.Tx, _ *store.Event) error {
		return tx.PutPolicy(ctx, store.Policy{OrgID: org, Name: doc.Name, Document: body, Updated: a.now()})
	}); err != nil {
		return 0, err
	}
	if _, err := a.Policies.Set.Store(eng); err != nil {
		return 0, err
	}
	return status, nil
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	p, err := a.Store.GetPolicy(r.Context(), o.ID, r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return jsonapi.NotFound("access policy " + quote(r.PathValue("name")))
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p.Document)
	return nil
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	ps, err := a.Store.ListPolicies(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := make([]json.RawMessage, 0, len(ps))
	for _, p := range ps {
		out = append(out, json.RawMessage(p.Document))
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"policies": out})
	return nil
}

func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	unlock := a.Policies.lock(o.ID)
	defer unlock()
	ctx := r.Context()
	docs, err := storedDocs(ctx, a.Store, o.ID, name, nil)
	if err != nil {
		return err
	}
	eng, err := policy.Compile(o.ID, docs)
	if err != nil {
		return err
	}
	err = a.audited(r, c, o.ID, "policy.delete", name, func(tx store.Tx, _ *store.Event) error {
		return tx.DeletePolicy(ctx, o.ID, name)
	})
	if errors.Is(err, store.ErrNotFound) {
		return jsonapi.NotFound("access policy " + quote(name))
	}
	if err != nil {
		return err
	}
	if _, err := a.Policies.Set.Store(eng); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) simulatePolicy(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	var in struct {
		PrincipalName string              `json:"principalName"`
		Role          string              `json:"role"`
		Groups        []string            `json:"groups"`
		Attributes    map[string][]string `json:"attributes"`
		Action        string              `json:"action"`
		Resource      string              `json:"resource"`
	}
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.Action == "" {
		return jsonapi.BadRequest(`field "action" is required, e.g. "s3:GetObject"`)
	}
	if in.Resource == "" {
		return jsonapi.BadRequest(`field "resource" is required, e.g. "test-bucket/key" or "test-bucket" or "*"`)
	}
	if err := checkName("principalName", in.PrincipalName); err != nil {
		return err
	}
	if err := checkName("role", in.Role); err != nil {
		return err
	}
	for i, g := range in.Groups {
		if err := checkName(fmt.Sprintf("groups[%d]", i), g); err != nil {
			return err
		}
	}
	x := a.Policies.Set.Engine(o.ID).Explain(policy.Request{OrgID: o.ID, PrincipalName: in.PrincipalName, Role: in.Role,
		Groups: in.Groups, Attributes: in.Attributes, Action: in.Action, Resource: in.Resource})
	jsonapi.WriteJSON(w, http.StatusOK, x)
	return nil
}
