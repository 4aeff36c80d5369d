package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/s3fed/s3fed/internal/server"
)

func newServeCmd() *cobra.Command {
	cfg := server.Defaults()
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the s3fed server (S3 and STS on --s3-addr, JSON API on --api-addr)",
		Long: `Run the s3fed server.

With no flags it listens on 127.0.0.1:9000 (S3 and the AWS STS query API) and
127.0.0.1:9001 (JSON API, /healthz, /readyz), keeps everything under ./s3fed-data
(SQLite state, object data, master keys) and, on first start, prints the root
admin token once. Every flag can also be set with its S3FED_* environment
variable (for example S3FED_DATA_DIR); a flag wins over the environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg.RootToken = os.Getenv("S3FED_ROOT_TOKEN")
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Log = log
			cfg.Out = cmd.OutOrStdout()
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return srv.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.S3Addr, "s3-addr", cfg.S3Addr, "address of the S3 and STS listener (S3FED_S3_ADDR)")
	f.StringVar(&cfg.APIAddr, "api-addr", cfg.APIAddr, "address of the JSON API listener (S3FED_API_ADDR)")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for state, objects and master keys (S3FED_DATA_DIR)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "master key file, shared by replicas; default <data-dir>/master.key (S3FED_MASTER_KEY_FILE)")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL for state shared by replicas; default SQLite in the data dir (S3FED_DATABASE_URL)")
	f.StringVar(&cfg.PublicURL, "public-url", "", "base URL of the SAML SP endpoints; default http(s)://<api-addr> (S3FED_PUBLIC_URL)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for TLS on both listeners (S3FED_TLS_CERT)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key for TLS on both listeners (S3FED_TLS_KEY)")
	f.DurationVar(&cfg.ClockSkew, "clock-skew", cfg.ClockSkew, "tolerance for SAML/OIDC time checks, at most 180s (S3FED_CLOCK_SKEW)")
	f.StringVar(&cfg.S3Domain, "s3-domain", "", "domain for virtual-hosted-style S3 addressing, e.g. s3.example.com (S3FED_S3_DOMAIN)")
	f.StringVar(&cfg.Region, "region", cfg.Region, "S3 region name (S3FED_REGION)")
	f.Float64Var(&cfg.ExchangeRate, "exchange-rate", cfg.ExchangeRate, "exchanges per second allowed per client (IPv4 address or IPv6 /64); 0 disables the limit (S3FED_EXCHANGE_RATE)")
	f.IntVar(&cfg.ExchangeBurst, "exchange-burst", cfg.ExchangeBurst, "exchanges a client (IPv4 address or IPv6 /64) may make at once (S3FED_EXCHANGE_BURST)")
	f.DurationVar(&cfg.Timeouts.ReadHeader, "header-timeout", cfg.Timeouts.ReadHeader, "time a client has to send a request's headers, both listeners (S3FED_HEADER_TIMEOUT)")
	f.DurationVar(&cfg.Timeouts.Idle, "idle-timeout", cfg.Timeouts.Idle, "idle keep-alive connections are closed after this, both listeners (S3FED_IDLE_TIMEOUT)")
	f.DurationVar(&cfg.Timeouts.APIBody, "api-body-timeout", cfg.Timeouts.APIBody, "time a client has to send a whole JSON API, exchange or STS request body (S3FED_API_BODY_TIMEOUT)")
	f.DurationVar(&cfg.Timeouts.S3BodyStall, "s3-stall-timeout", cfg.Timeouts.S3BodyStall, "an S3 request body that sends no bytes for this long is ended (S3FED_S3_STALL_TIMEOUT)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (S3FED_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", "text", "text or json (S3FED_LOG_FORMAT)")
	return cmd
}

// applyEnv sets every flag not given on the command line from S3FED_<NAME>.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "S3FED_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json")
}
