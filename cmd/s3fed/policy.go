package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/s3fed/s3fed/internal/policy"
)

// policyOfflineOrg is the org every offline simulation runs in: the CLI has
// one org's documents and no server, so the caller, the policies and the
// bucket all belong to this one placeholder org.
const policyOfflineOrg = "offline"

// newPolicyCmd is `s3fed policy`: the access-policy language offline, so an
// admin can check and try a policy before uploading it (and in CI).
func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Validate and simulate access policies offline",
		Long: `Work with access policy documents without a server.

  s3fed policy validate policy.json
  s3fed policy simulate --policy policy.json --role reader-role \
      --action s3:GetObject --resource test-bucket/report.csv

The same engine decides requests in 's3fed serve': what simulate answers is
what the server would answer for the same documents and identity.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newPolicyValidateCmd(), newPolicySimulateCmd())
	return cmd
}

// readPolicyFile reads FILE ("-" for standard input), at most limit+1
// bytes, so an oversized file is reported by the parser, not read whole.
func readPolicyFile(cmd *cobra.Command, name string, limit int) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("policy file: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// reportPolicyError prints every problem of a refused document to stderr,
// one per line, and reports whether err was a policy problem (as opposed
// to an I/O error the caller returns as is).
func reportPolicyError(cmd *cobra.Command, file string, err error) bool {
	w := cmd.ErrOrStderr()
	var ve *policy.ValidationError
	switch {
	case errors.As(err, &ve):
		what := ve.What
		if what == "" {
			what = "access policy"
		}
		n := len(ve.Problems)
		plural := "s"
		if n == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "%s: invalid %s, %d problem%s:\n", file, what, n, plural)
		for _, p := range ve.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		return true
	case errors.Is(err, policy.ErrInvalidJSON):
		fmt.Fprintf(w, "%s: %v\n", file, err)
		return true
	}
	return false
}

// loadPolicyFiles reads and parses every file, reporting all problems of
// all files before failing.
func loadPolicyFiles(cmd *cobra.Command, files []string) ([]*policy.Document, error) {
	var docs []*policy.Document
	failed := false
	for _, file := range files {
		data, err := readPolicyFile(cmd, file, policy.MaxDocumentBytes)
		if err != nil {
			return nil, err
		}
		doc, err := policy.ParseDocument(data)
		if err != nil {
			if !reportPolicyError(cmd, file, err) {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			failed = true
			continue
		}
		docs = append(docs, doc)
	}
	if failed {
		return nil, exitError{code: 1}
	}
	return docs, nil
}

func newPolicyValidateCmd() *cobra.Command {
	var bucket string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check access policy documents (or a bucket policy) and list every problem",
		Long: `Check one or more access policy documents ("-" reads standard input).

A valid file prints a one-line summary. An invalid one prints every problem
(statement, field and why) on standard error and the command exits with status 1.
Several files are also compiled together, as the server would for one org, so
two documents with the same name are reported.

With --bucket NAME the file is checked as an S3 bucket policy (IAM JSON
"2012-10-17") of bucket NAME instead.`,
		Example: `  s3fed policy validate give-saml-access.json
  s3fed policy validate policies/*.json
  s3fed policy validate --bucket test-bucket bucket-policy.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			out := cmd.OutOrStdout()
			if bucket != "" {
				failed := false
				for _, file := range files {
					data, err := readPolicyFile(cmd, file, policy.MaxBucketPolicyBytes)
					if err != nil {
						return err
					}
					bp, err := policy.ParseBucketPolicy(data, bucket)
					if err != nil {
						if !reportPolicyError(cmd, file, err) {
							return fmt.Errorf("%s: %w", file, err)
						}
						failed = true
						continue
					}
					fmt.Fprintf(out, "%s: valid bucket policy for %q (%d statement(s))\n", file, bucket, bp.Len())
				}
				if failed {
					return exitError{code: 1}
				}
				return nil
			}
			docs, err := loadPolicyFiles(cmd, files)
			if err != nil {
				return err
			}
			if _, err := policy.Compile(policyOfflineOrg, docs); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "the files cannot be one organization's policies: %v\n", err)
				return exitError{code: 1}
			}
			for i, doc := range docs {
				fmt.Fprintf(out, "%s: valid access policy %q (%d statement(s))\n", files[i], doc.Name, len(doc.Statements))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&bucket, "bucket", "", "check the files as bucket policies of this bucket")
	return cmd
}

func newPolicySimulateCmd() *cobra.Command {
	var (
		files, groups, attributes          []string
		principal, role, action, resource  string
		bucketPolicyFile, sourceIP, prefix string
		secure                             bool
	)
	cmd := &cobra.Command{
		Use:   "simulate --policy FILE... --action ACTION --resource RESOURCE [identity flags]",
		Short: "Decide one request against access policy documents, offline",
		Long: `Decide one request against the given access policy documents exactly as the
server would, and print the decision as JSON:

  {"decision": "Allow"|"Deny", "implicit": bool,
   "statements": [deciding statements], "reason": "...",
   "matched": [every statement that matched]}

The resource is BUCKET/KEY for object actions, BUCKET for bucket-level actions
(s3:ListBucket, s3:GetBucketPolicy, ...) and * for global actions
(s3:ListAllMyBuckets). The exit status is 0 for both Allow and Deny; invalid
documents print every problem and exit with status 1.

With --bucket-policy FILE the bucket's policy is applied too, as for a caller of
the bucket's own org (a bucket Deny rejects; Put/Get/DeleteBucketPolicy are
decided by the access policies alone). --source-ip, --tls and --prefix feed
its conditions (aws:SourceIp, aws:SecureTransport, s3:prefix).`,
		Example: `  s3fed policy simulate --policy give-saml-access.json --role reader-role \
      --action s3:ListBucket --resource test-bucket
  s3fed policy simulate --policy a.json --policy b.json --principal saml/alice@example.com \
      --group data-eng --attribute department=ml --action s3:PutObject --resource datasets/x.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			attrs := map[string][]string{}
			for _, kv := range attributes {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--attribute %q: use key=value", kv)
				}
				attrs[k] = append(attrs[k], v)
			}
			req := policy.Request{
				OrgID:         policyOfflineOrg,
				PrincipalName: principal,
				Role:          role,
				Groups:        groups,
				Attributes:    attrs,
				Action:        action,
				Resource:      resource,
			}
			var ctx policy.BucketContext
			if sourceIP != "" {
				ip, err := netip.ParseAddr(sourceIP)
				if err != nil {
					return fmt.Errorf("--source-ip: %w", err)
				}
				ctx.SourceIP = ip
			}
			ctx.SecureTransport, ctx.Prefix = secure, prefix

			docs, err := loadPolicyFiles(cmd, files)
			if err != nil {
				return err
			}
			engine, err := policy.Compile(policyOfflineOrg, docs)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
				return exitError{code: 1}
			}
			x := engine.Explain(req)
			if bucketPolicyFile != "" {
				bucket, _, _ := strings.Cut(resource, "/")
				if bucket == "" || bucket == "*" {
					return errors.New("--bucket-policy needs a --resource naming a bucket")
				}
				data, err := readPolicyFile(cmd, bucketPolicyFile, policy.MaxBucketPolicyBytes)
				if err != nil {
					return err
				}
				bp, err := policy.ParseBucketPolicy(data, bucket)
				if err != nil {
					if reportPolicyError(cmd, bucketPolicyFile, err) {
						return exitError{code: 1}
					}
					return fmt.Errorf("%s: %w", bucketPolicyFile, err)
				}
				// The bucket layer changes the answer only when it denies;
				// otherwise keep Explain's full list of deciding statements.
				if d := policy.Authorize(engine, bp, policyOfflineOrg, req, ctx); d.Effect != x.Effect || d.Reason != x.Reason {
					x.Decision = d
					for _, ref := range d.Statements {
						if ref.Bucket != "" {
							x.Matched = append(x.Matched, ref)
						}
					}
				}
			}
			js, err := json.MarshalIndent(x, "", "  ")
			if err != nil {
				return fmt.Errorf("encode decision: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", js)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&files, "policy", nil, "access policy document (repeatable; \"-\" reads standard input)")
	f.StringVar(&principal, "principal", "", "principal name, e.g. saml/alice@example.com or oidc/SUBJECT")
	f.StringVar(&role, "role", "", "the caller's role")
	f.StringArrayVar(&groups, "group", nil, "a group of the caller (repeatable)")
	f.StringArrayVar(&attributes, "attribute", nil, "an attribute key=value of the caller (repeatable; repeat a key for several values)")
	f.StringVar(&action, "action", "", "the action, e.g. s3:GetObject")
	f.StringVar(&resource, "resource", "", "BUCKET/KEY, BUCKET, or * for global actions")
	f.StringVar(&bucketPolicyFile, "bucket-policy", "", "also apply this bucket policy of the resource's bucket")
	f.StringVar(&sourceIP, "source-ip", "", "client address for aws:SourceIp conditions")
	f.BoolVar(&secure, "tls", false, "the request came over TLS (aws:SecureTransport)")
	f.StringVar(&prefix, "prefix", "", "listing prefix for s3:prefix conditions (s3:ListBucket)")
	for _, name := range []string{"policy", "action", "resource"} {
		_ = cmd.MarkFlagRequired(name) // fails only for an undefined flag
	}
	return cmd
}
