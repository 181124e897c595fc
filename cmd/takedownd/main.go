// Command takedownd is the takedown daemon: it turns confirmed reports into
// cases, finds who hosts them, notifies them and checks until the material
// is gone. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/clustercreds"
	"github.com/takedownd/takedownd/pkg/config"
)

func main() {
	os.Exit(run())
}

func run() int {
	configPath := flag.String("config", "", "YAML configuration file (default: built-in defaults)")
	dataDir := flag.String("data", "", "data directory (overrides data_dir in the config)")
	checkConfig := flag.Bool("check-config", false, "validate the configuration and resolve its secrets, start nothing; exit 0 if it is valid, 1 if not")
	version := flag.Bool("version", false, "print the version and exit")
	genCreds := flag.String("gen-credentials", "", "write the credentials of a NATS cluster deployment into this directory (nkey seeds per role, nats.env for the nodes, API token, VERP secret), keeping files that exist; start nothing")
	routes := flag.String("nats-routes", strings.Join(clustercreds.DefaultRoutes, ","), "with -gen-credentials: the NATS nodes' route addresses (host:port,…) written into nats.env")
	pprofAddr := flag.String("pprof", "", "serve Go's runtime profiles on this loopback address (host:port), for an operator chasing CPU or memory")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "takedownd: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		return 2
	}
	if *version {
		fmt.Println(app.Version())
		return 0
	}
	if *genCreds != "" {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})) // the list below names every file
		res, err := clustercreds.Generate(*genCreds, clustercreds.Options{Routes: strings.Split(*routes, ","), Log: log})
		if err != nil {
			fmt.Fprintln(os.Stderr, "takedownd:", err)
			return 1
		}
		res.Describe(os.Stdout)
		return 0
	}
	if *checkConfig {
		summary, err := app.CheckConfig(*configPath, *dataDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "takedownd:", err)
			return 1
		}
		fmt.Println(summary)
		return 0
	}

	// From here on a stop is ours to handle (a clean exit 0), even while
	// the configuration loads.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := app.LoadConfig(*configPath, *dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "takedownd:", err)
		return 2
	}
	log := newLogger(cfg.Log)
	log.Info("memory limit of the Go runtime", "limit", setMemoryLimit(), "gc_percent", setGCPercent())
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, log); err != nil {
			fmt.Fprintln(os.Stderr, "takedownd:", err)
			return 2
		}
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Log: log})
	if errors.Is(err, app.ErrStopped) {
		log.Info("takedownd stopped during start-up")
		return 0
	}
	if err != nil {
		log.Error("takedownd could not start", "err", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("takedownd stopped with errors", "err", err)
		return 1
	}
	log.Info("takedownd stopped")
	return 0
}

func newLogger(cfg config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
