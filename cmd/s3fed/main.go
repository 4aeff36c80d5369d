// Command s3fed is the one s3fed binary: the server (serve), its admin client
// (admin), the credential exchange client (creds), a test IdP (idp) and the
// offline policy tools (policy).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "s3fed:", err)
		os.Exit(1)
	}
}

// exitError carries an exit status for failures already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "s3fed",
		Short: "Identity federation for S3 object storage",
		Long: `s3fed turns a signed SAML response (or OIDC token) from your identity provider into
short-lived S3 keys, checks every S3 request made with them against your access policies,
audits it, and serves it from an embedded store.

Start here:
  s3fed serve                      run the server with embedded defaults
  s3fed admin --help               manage orgs, tokens, federation configs, keys
  s3fed idp --help                 a built-in test IdP to try things without a real one
  s3fed creds saml --help          exchange a SAML response for S3 keys`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newAdminCmd(), newCredsCmd(), newIdpCmd(), newPolicyCmd())
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	return root
}

// extraCommands lets optional command groups register themselves.
var extraCommands []func() *cobra.Command
