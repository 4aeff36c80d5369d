package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/server"
)

// apiClient calls the JSON API with the admin token.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient() (*apiClient, error) {
	base := os.Getenv("S3FED_API")
	if base == "" {
		base = "http://127.0.0.1:9001"
	}
	return &apiClient{base: strings.TrimRight(base, "/"), token: os.Getenv("S3FED_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// apiError is a JSON API error answer, printed as "code: message".
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// do sends body (JSON-encoded unless it is already []byte) and decodes the
// answer into out.
func (c *apiClient) do(ctx context.Context, method, path string, body any, contentType string, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is the server running? set S3FED_API)", method, c.base+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, ae) != nil || ae.Code == "" {
			ae.Code, ae.Message = "http_error", strings.TrimSpace(string(data))
		}
		if ae.Code == "unauthenticated" && c.token == "" {
			ae.Message += " (S3FED_TOKEN is not set)"
		}
		return ae
	}
	if ra, ok := out.(*rawAnswer); ok {
		*ra = data
		return nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// rawAnswer receives a non-JSON answer verbatim.
type rawAnswer []byte

// printer prints answers as JSON or, for lists, as a table.
type printer struct {
	format string
	out    io.Writer
}

func (p printer) print(v any, listKey string, cols ...string) error {
	if p.format == "json" || listKey == "" {
		enc := json.NewEncoder(p.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if p.format != "table" {
		return fmt.Errorf("--output must be json or table")
	}
	m, _ := v.(map[string]any)
	rows, _ := m[listKey].([]any)
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		obj, _ := r.(map[string]any)
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = cell(obj[c])
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+cell(x[k]))
		}
		return strings.Join(parts, ",")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func newAdminCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage orgs, admin tokens, federation configs, access keys and the audit log",
		Long: `Call the s3fed JSON admin API.

Set S3FED_API to the API's base URL (default http://127.0.0.1:9001) and
S3FED_TOKEN to an admin token: the root token printed by the first
's3fed serve', or an org token from 'admin token create'.

Example, from nothing to a SAML federation config:
  s3fed admin org create acme --name "Acme Corp"
  s3fed idp keygen                         # or your IdP's signing certificate
  s3fed admin config create-saml --org acme --name test-idp \
      --idp-entity-id s3fed-test-idp --cert idp-cert.pem
  s3fed admin config list --org acme -o table`,
	}
	cmd.PersistentFlags().StringVarP(&format, "output", "o", "json", "output format: json or table")
	p := func(c *cobra.Command) printer { return printer{format: format, out: c.OutOrStdout()} }

	cmd.AddCommand(newAdminOrgCmd(p), newAdminTokenCmd(p), newAdminConfigCmd(p), newAdminKeysCmd(p), newAdminAuditCmd(p), newResetRootCmd())
	for _, c := range extraAdminCommands {
		cmd.AddCommand(c(p))
	}
	return cmd
}

// extraAdminCommands lets command groups defined elsewhere join `admin`.
var extraAdminCommands []func(func(*cobra.Command) printer) *cobra.Command

// call is the body of most admin subcommands.
func call(c *cobra.Command, p func(*cobra.Command) printer, method, path string, body any, listKey string, cols ...string) error {
	cl, err := newAPIClient()
	if err != nil {
		return err
	}
	var out any
	if err := cl.do(c.Context(), method, path, body, "", &out); err != nil {
		return err
	}
	return p(c).print(out, listKey, cols...)
}

func esc(s string) string { return url.PathEscape(s) }

func newAdminOrgCmd(p func(*cobra.Command) printer) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Create, list and show orgs (create needs the root token)"}
	var name string
	create := &cobra.Command{
		Use: "create ORG_ID", Short: "Create an org (lowercase letters, digits and '-')", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			body := map[string]any{"id": args[0]}
			if name != "" {
				body["name"] = name
			}
			return call(c, p, "POST", "/v1/admin/orgs", body, "")
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (default: the ID)")
	cmd.AddCommand(create,
		&cobra.Command{Use: "list", Short: "List orgs (an org token sees only its own)", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				return call(c, p, "GET", "/v1/admin/orgs", nil, "orgs", "id", "name", "created")
			}},
		&cobra.Command{Use: "get ORG_ID", Short: "Show one org", Args: cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				return call(c, p, "GET", "/v1/admin/orgs/"+esc(args[0]), nil, "")
			}})
	return cmd
}

func newAdminTokenCmd(p func(*cobra.Command) printer) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Org admin tokens: create and revoke need the root token"}
	var org, desc string
	create := &cobra.Command{
		Use: "create --org ORG", Short: "Create an org admin token; the secret is shown once", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return call(c, p, "POST", "/v1/admin/orgs/"+esc(org)+"/tokens", map[string]any{"description": desc}, "")
		},
	}
	create.Flags().StringVar(&desc, "description", "", "what the token is for")
	list := &cobra.Command{Use: "list --org ORG", Short: "List an org's tokens (never the secrets)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return call(c, p, "GET", "/v1/admin/orgs/"+esc(org)+"/tokens", nil, "tokens", "id", "description", "created")
		}}
	revoke := &cobra.Command{Use: "revoke --org ORG TOKEN_ID", Short: "Revoke an org token", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "DELETE", "/v1/admin/orgs/"+esc(org)+"/tokens/"+esc(args[0]), nil, "")
		}}
	for _, sc := range []*cobra.Command{create, list, revoke} {
		sc.Flags().StringVar(&org, "org", "", "org ID (required)")
		_ = sc.MarkFlagRequired("org")
		cmd.AddCommand(sc)
	}
	return cmd
}

func readCerts(files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

func newAdminConfigCmd(p func(*cobra.Command) printer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "SAML federation configs: which IdP to trust, and how"}
	var org, name, entity, desc string
	var certs []string
	var maxDur int
	var active bool

	create := &cobra.Command{
		Use:   "create-saml --org ORG --name NAME --idp-entity-id ID --cert FILE",
		Short: "Create a SAML federation config trusting 1-3 IdP signing certificates",
		Long: `Create a SAML federation config.

--idp-entity-id must equal the Issuer your IdP puts in its responses; --cert is the
IdP's signing certificate in PEM (repeat for up to 3 during a rotation). The answer
shows acsUrl and audience: configure your IdP to send assertions with Destination
and Recipient = acsUrl and Audience = audience.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			pems, err := readCerts(certs)
			if err != nil {
				return err
			}
			body := map[string]any{"name": name, "idpEntityId": entity, "certificates": pems}
			if desc != "" {
				body["description"] = desc
			}
			if c.Flags().Changed("max-duration") {
				body["maxDurationSeconds"] = maxDur
			}
			if c.Flags().Changed("active") {
				body["active"] = active
			}
			return call(c, p, "POST", "/v1/admin/orgs/"+esc(org)+"/workload-federation/saml", body, "")
		},
	}
	create.Flags().StringVar(&name, "name", "", "config name (required)")
	create.Flags().StringVar(&entity, "idp-entity-id", "", "the IdP's entity ID, equal to its assertions' Issuer (required)")
	create.Flags().StringArrayVar(&certs, "cert", nil, "IdP signing certificate PEM file (repeatable, 1-3; required)")
	create.Flags().StringVar(&desc, "description", "", "free text")
	create.Flags().IntVar(&maxDur, "max-duration", 43200, "longest credential lifetime in seconds")
	create.Flags().BoolVar(&active, "active", true, "accept exchanges (false to stage a config)")
	for _, f := range []string{"name", "idp-entity-id", "cert"} {
		_ = create.MarkFlagRequired(f)
	}

	update := &cobra.Command{
		Use: "update --org ORG CONFIG_ID [--name] [--active=false] [--cert FILE]...", Short: "Change a config (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			body := map[string]any{}
			fl := c.Flags()
			if fl.Changed("name") {
				body["name"] = name
			}
			if fl.Changed("idp-entity-id") {
				body["idpEntityId"] = entity
			}
			if fl.Changed("description") {
				body["description"] = desc
			}
			if fl.Changed("max-duration") {
				body["maxDurationSeconds"] = maxDur
			}
			if fl.Changed("active") {
				body["active"] = active
			}
			if fl.Changed("cert") {
				pems, err := readCerts(certs)
				if err != nil {
					return err
				}
				body["certificates"] = pems
			}
			return call(c, p, "PATCH", "/v1/admin/orgs/"+esc(org)+"/workload-federation/"+esc(args[0]), body, "")
		},
	}
	update.Flags().StringVar(&name, "name", "", "new name")
	update.Flags().StringVar(&entity, "idp-entity-id", "", "new IdP entity ID")
	update.Flags().StringArrayVar(&certs, "cert", nil, "replace the trusted certificates (repeatable)")
	update.Flags().StringVar(&desc, "description", "", "new description")
	update.Flags().IntVar(&maxDur, "max-duration", 43200, "new maximum credential lifetime in seconds")
	update.Flags().BoolVar(&active, "active", true, "accept exchanges")

	list := &cobra.Command{Use: "list --org ORG", Short: "List an org's federation configs", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return call(c, p, "GET", "/v1/admin/orgs/"+esc(org)+"/workload-federation", nil, "configs", "configId", "kind", "name", "idpEntityId", "active")
		}}
	get := &cobra.Command{Use: "get --org ORG CONFIG_ID", Short: "Show a config with its SP URLs", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "GET", "/v1/admin/orgs/"+esc(org)+"/workload-federation/"+esc(args[0]), nil, "")
		}}
	del := &cobra.Command{Use: "delete --org ORG CONFIG_ID", Short: "Delete a config and revoke every key it issued", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "DELETE", "/v1/admin/orgs/"+esc(org)+"/workload-federation/"+esc(args[0]), nil, "")
		}}
	revoke := &cobra.Command{Use: "revoke-keys --org ORG CONFIG_ID", Short: "Revoke every key a config issued; the config stays", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "POST", "/v1/admin/orgs/"+esc(org)+"/workload-federation/"+esc(args[0])+":revoke-keys", map[string]any{}, "")
		}}
	spmd := &cobra.Command{Use: "sp-metadata --org ORG CONFIG_ID", Short: "Print the SP metadata XML to import into your IdP", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := newAPIClient()
			if err != nil {
				return err
			}
			var raw rawAnswer
			if err := cl.do(c.Context(), "GET", "/v1/admin/orgs/"+esc(org)+"/workload-federation/"+esc(args[0])+"/sp-metadata", nil, "", &raw); err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(raw)
			return err
		}}
	for _, sc := range []*cobra.Command{create, update, list, get, del, revoke, spmd} {
		sc.Flags().StringVar(&org, "org", "", "org ID (required)")
		_ = sc.MarkFlagRequired("org")
		cmd.AddCommand(sc)
	}
	return cmd
}

func newAdminKeysCmd(p func(*cobra.Command) printer) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Issued access keys: inventory and revocation"}
	var org, principal, status string
	list := &cobra.Command{Use: "list --org ORG [--principal P] [--status ACTIVE|EXPIRED|REVOKED]", Short: "List issued keys (never secrets)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			q := url.Values{}
			if principal != "" {
				q.Set("principalName", principal)
			}
			if status != "" {
				q.Set("status", status)
			}
			path := "/v1/admin/orgs/" + esc(org) + "/access-keys"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			return call(c, p, "GET", path, nil, "accessKeys", "accessKeyId", "principalName", "role", "status", "expiry")
		}}
	list.Flags().StringVar(&principal, "principal", "", "only this principalName")
	list.Flags().StringVar(&status, "status", "", "only ACTIVE, EXPIRED or REVOKED keys")
	list.Flags().StringVar(&org, "org", "", "org ID (required)")
	_ = list.MarkFlagRequired("org")
	withOrg := func(body map[string]any) map[string]any {
		if org != "" {
			body["orgId"] = org
		}
		return body
	}
	revoke := &cobra.Command{Use: "revoke ACCESS_KEY_ID [--org ORG]", Short: "Revoke one key at once", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "POST", "/v1/cwobject/revoke-access-key/access-key", withOrg(map[string]any{"accessKey": args[0]}), "")
		}}
	revokeP := &cobra.Command{Use: "revoke-principal PRINCIPAL_NAME [--org ORG]", Short: "Revoke every key of a principal (e.g. saml/alice@example.com)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "POST", "/v1/cwobject/revoke-access-key/principal", withOrg(map[string]any{"principalName": args[0]}), "")
		}}
	for _, sc := range []*cobra.Command{revoke, revokeP} {
		sc.Flags().StringVar(&org, "org", "", "org ID (needed with the root token)")
	}
	cmd.AddCommand(list, revoke, revokeP)
	return cmd
}

func newAdminAuditCmd(p func(*cobra.Command) printer) *cobra.Command {
	var org, since, principal string
	var limit int
	cmd := &cobra.Command{Use: "audit --org ORG [--since RFC3339] [--principal P] [--limit N]", Short: "Read an org's audit log, newest first", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			q := url.Values{}
			if since != "" {
				q.Set("since", since)
			}
			if principal != "" {
				q.Set("principalName", principal)
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			path := "/v1/admin/orgs/" + esc(org) + "/audit"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			return call(c, p, "GET", path, nil, "events", "time", "kind", "action", "outcome", "code", "principalName", "target")
		}}
	cmd.Flags().StringVar(&org, "org", "", "org ID (required)")
	cmd.Flags().StringVar(&since, "since", "", "only events at or after this time")
	cmd.Flags().StringVar(&principal, "principal", "", "only events of this principalName")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (1-1000, default 100)")
	_ = cmd.MarkFlagRequired("org")
	return cmd
}

func newResetRootCmd() *cobra.Command {
	var dataDir, dbURL string
	cmd := &cobra.Command{
		Use:   "reset-root-token --data-dir DIR",
		Short: "Replace a lost root token, offline, by writing the state directly",
		Long: `Replace the root admin token by writing its hash straight into the state under
--data-dir, and print the new token once. It needs only file access to the data
dir, which is what proves you are the operator. The old root token stops working
at once, on a running server too.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dbURL == "" {
				dbURL = os.Getenv("S3FED_DATABASE_URL")
			}
			if _, err := os.Stat(server.StatePath(dataDir)); err != nil && dbURL == "" {
				return fmt.Errorf("no s3fed state under %s: %w", dataDir, err)
			}
			st, err := server.OpenState(c.Context(), dataDir, dbURL)
			if err != nil {
				return err
			}
			defer st.Close()
			tok := admin.NewToken()
			if err := server.SetRootToken(c.Context(), st, tok, "reset-root-token"); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "New root admin token (shown once):\n\n    %s\n\nexport S3FED_TOKEN=%s\n", tok, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./s3fed-data", "the server's data directory")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "the server's PostgreSQL URL, when it keeps state there (S3FED_DATABASE_URL)")
	return cmd
}
