package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func newCredsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "Exchange an IdP assertion for temporary S3 keys",
		Long: `Exchange a signed assertion for temporary S3 keys through the s3fed API
(S3FED_API, default http://127.0.0.1:9001). No admin token is needed: the
assertion is the credential.

Formats:
  json                the API's answer
  env                 shell export lines for AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
  credential-process  the JSON an AWS profile's credential_process expects`,
	}
	var org, config, file, format string
	var duration int
	var attrs []string
	saml := &cobra.Command{
		Use:   "saml --org ORG --config CONFIG_ID --saml-response-file FILE|-",
		Short: "Exchange a base64 SAML Response for S3 keys",
		Example: `  s3fed idp sign --org acme --principal alice@example.com --role reader-role > resp.b64
  s3fed creds saml --org acme --config CONFIG_ID --saml-response-file resp.b64 --format env
  eval "$(s3fed idp sign ... | s3fed creds saml --org acme --config CONFIG_ID --saml-response-file - --format env)"`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(io.LimitReader(c.InOrStdin(), 1<<20))
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("read SAML response: %w", err)
			}
			body := map[string]any{"orgId": org, "configId": config, "samlResponse": strings.TrimSpace(string(data))}
			if c.Flags().Changed("duration") {
				body["durationSeconds"] = duration
			}
			if len(attrs) > 0 {
				m := map[string]string{}
				for _, a := range attrs {
					k, v, ok := strings.Cut(a, "=")
					if !ok {
						return fmt.Errorf("--attribute %q: want KEY=VALUE", a)
					}
					m[k] = v
				}
				body["attributes"] = m
			}
			cl, err := newAPIClient()
			if err != nil {
				return err
			}
			cl.token = ""
			var out map[string]any
			if err := cl.do(c.Context(), "POST", "/v1/cwobject/temporary-credentials/saml", body, "", &out); err != nil {
				return err
			}
			return printCreds(c.OutOrStdout(), format, out)
		},
	}
	saml.Flags().StringVar(&org, "org", "", "org ID (required)")
	saml.Flags().StringVar(&config, "config", "", "federation config ID (required)")
	saml.Flags().StringVar(&file, "saml-response-file", "", "file holding the base64 SAML Response, or - for standard input (required)")
	saml.Flags().StringVar(&format, "format", "json", "json, env or credential-process")
	saml.Flags().IntVar(&duration, "duration", 3600, "requested lifetime in seconds (1-43200; clamped to the config's maximum)")
	saml.Flags().StringArrayVar(&attrs, "attribute", nil, "key tag KEY=VALUE stored with the key (repeatable, at most 15)")
	for _, f := range []string{"org", "config", "saml-response-file"} {
		_ = saml.MarkFlagRequired(f)
	}
	cmd.AddCommand(saml)
	return cmd
}

func printCreds(w io.Writer, format string, out map[string]any) error {
	str := func(k string) string { s, _ := out[k].(string); return s }
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "env":
		fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n", shellQuote(str("accessKeyId")), shellQuote(str("secretKey")))
		if t := str("sessionToken"); t != "" {
			fmt.Fprintf(w, "export AWS_SESSION_TOKEN=%s\n", shellQuote(t))
		} else {
			fmt.Fprintln(w, "unset AWS_SESSION_TOKEN")
		}
		fmt.Fprintf(w, "# principal %s, role %s, expires %s\n", str("principalName"), str("role"), str("expiry"))
		return nil
	case "credential-process":
		cp := map[string]any{"Version": 1, "AccessKeyId": str("accessKeyId"), "SecretAccessKey": str("secretKey"), "Expiration": str("expiry")}
		if t := str("sessionToken"); t != "" {
			cp["SessionToken"] = t
		}
		return json.NewEncoder(w).Encode(cp)
	}
	return fmt.Errorf("--format must be json, env or credential-process")
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
