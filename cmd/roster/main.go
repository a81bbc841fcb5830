// Command roster keeps user groups, their subgroups and their permissions in
// step with enterprise directories, and signs members in to the groups'
// tools over OpenID Connect.
//
// Usage:
//
//	roster serve --config FILE [--listen ADDR]
//	roster demo [--listen ADDR] [--data DIR]
//	roster sync --config FILE [--directory [TENANT/]ID] [--mode full|incremental]
//	roster sync approve --directory TENANT/ID (--config FILE | --server URL)
//	roster groups | members GROUP | explain USER PERMISSION GROUP [--server URL]
//	roster scim-token create|list|revoke --tenant T [--name N]
//	roster outbound status|resync|replay|resume|approve [--target ID] [--from SEQ]
//	roster backup --out FILE [--server URL]
//	roster restore --in FILE (--config FILE | --data DIR)
//	roster migrate --config FILE
//	roster store copy --from bbolt:PATH|postgres:DSN --to bbolt:PATH|postgres:DSN
//	roster healthcheck [--url URL]
//	roster doctor (--config FILE | --data DIR) [--delete ID]
//	roster version
//
// Commands that talk to a running server read the admin token from
// ROSTER_ADMIN_TOKEN (or --token) and the server from ROSTER_SERVER (or
// --server, default http://127.0.0.1:8080).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "roster:", err)
		}
		os.Exit(1)
	}
}

const usage = `roster: user groups kept in step with enterprise directories

Commands:
  serve --config FILE [--listen ADDR]      run the server
  demo [--listen ADDR] [--data DIR]        run the server with demo data
  sync --config FILE [--directory T/ID] [--mode full|incremental]
                                           run one directory sync and exit
  sync approve --directory T/ID            approve deletions held by the guard
  groups                                   list user groups as a tree
  members GROUP                            show a group's effective members
  explain USER PERMISSION GROUP            why a user may (not) do something
  scim-token create|list|revoke --tenant T manage SCIM bearer tokens
  sessions list|revoke --tenant T --user U [--id ID|--all]
                                           a member's browser sessions at the OpenID provider
  outbound status|resync|replay|resume|approve [--target ID] [--from SEQ]
                                           provisioning targets (SCIM push, webhooks)
  backup --out FILE                        online backup of a running server
  restore --in FILE (--config F|--data D)  restore a backup (server stopped)
  migrate --config FILE                    apply PostgreSQL schema migrations
  store copy --from S --to S               copy a store between backends (bbolt:PATH, postgres:DSN), verified
  healthcheck [--url URL]                  exit 0 when the server's /healthz answers
  doctor (--config F|--data D) [--delete ID]
                                           quarantined records and index checks (server stopped)
  version                                  print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "sync":
		return cmdSync(ctx, rest, stdout, stderr)
	case "groups":
		return cmdGroups(ctx, rest, stdout, stderr)
	case "members":
		return cmdMembers(ctx, rest, stdout, stderr)
	case "explain":
		return cmdExplain(ctx, rest, stdout, stderr)
	case "scim-token":
		return cmdSCIMToken(ctx, rest, stdout, stderr)
	case "sessions":
		return cmdSessions(ctx, rest, stdout, stderr)
	case "outbound":
		return cmdOutbound(ctx, rest, stdout, stderr)
	case "backup":
		if err := backupConfigHint(rest); err != nil {
			return err
		}
		return cmdBackup(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "roster", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}
