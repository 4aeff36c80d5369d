package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func init() {
	extraAdminCommands = append(extraAdminCommands, newAdminPolicyCmd)
}

func newAdminPolicyCmd(p func(*cobra.Command) printer) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Org access policies on the server: put, get, list, delete, simulate",
		Long: `Manage an org's access policies on the server. A document is refused with every
problem listed, and a refused write leaves the previous version in force.
's3fed policy validate|simulate' do the same checks offline.`}
	var org string
	put := &cobra.Command{Use: "put --org ORG FILE", Short: "Create or replace the policy named inside FILE", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var head struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(data, &head); err != nil || head.Name == "" {
				return fmt.Errorf("%s: not a policy document with a \"name\"", args[0])
			}
			cl, err := newAPIClient()
			if err != nil {
				return err
			}
			var out any
			if err := cl.do(c.Context(), "PUT", "/v1/admin/orgs/"+esc(org)+"/access-policies/"+esc(head.Name), data, "application/json", &out); err != nil {
				return err
			}
			return p(c).print(out, "")
		}}
	get := &cobra.Command{Use: "get --org ORG NAME", Short: "Show a policy document", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "GET", "/v1/admin/orgs/"+esc(org)+"/access-policies/"+esc(args[0]), nil, "")
		}}
	list := &cobra.Command{Use: "list --org ORG", Short: "List an org's policy documents", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return call(c, p, "GET", "/v1/admin/orgs/"+esc(org)+"/access-policies", nil, "policies", "name", "version", "statements")
		}}
	del := &cobra.Command{Use: "delete --org ORG NAME", Short: "Delete a policy document", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, p, "DELETE", "/v1/admin/orgs/"+esc(org)+"/access-policies/"+esc(args[0]), nil, "")
		}}
	var principal, role, action, resource string
	var groups, attrs []string
	sim := &cobra.Command{Use: "simulate --org ORG --action A --resource R [--principal P] [--role R] [--group G]...",
		Short: "Decide a request against the org's policies on the server and explain why", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			am := map[string][]string{}
			for _, a := range attrs {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("--attribute %q: want KEY=VALUE", a)
				}
				am[k] = append(am[k], v)
			}
			body := map[string]any{"principalName": principal, "role": role, "groups": groups, "attributes": am, "action": action, "resource": resource}
			return call(c, p, "POST", "/v1/admin/orgs/"+esc(org)+"/access-policies:simulate", body, "")
		}}
	sim.Flags().StringVar(&principal, "principal", "", "principalName, e.g. saml/alice@example.com")
	sim.Flags().StringVar(&role, "role", "", "role")
	sim.Flags().StringArrayVar(&groups, "group", nil, "group (repeatable)")
	sim.Flags().StringArrayVar(&attrs, "attribute", nil, "attribute KEY=VALUE (repeatable)")
	sim.Flags().StringVar(&action, "action", "", "action, e.g. s3:GetObject (required)")
	sim.Flags().StringVar(&resource, "resource", "", "resource: BUCKET/KEY, BUCKET or * (required)")
	_ = sim.MarkFlagRequired("action")
	_ = sim.MarkFlagRequired("resource")
	for _, sc := range []*cobra.Command{put, get, list, del, sim} {
		sc.Flags().StringVar(&org, "org", "", "org ID (required)")
		_ = sc.MarkFlagRequired("org")
		cmd.AddCommand(sc)
	}
	return cmd
}
