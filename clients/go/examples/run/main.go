// Command run runs one job through dms-host with the Go client and prints
// its output, exiting with the job's exit code — a small `dmsctl run`.
//
//	run [-system] [-executor ID] [-config YAML] [-image IMAGE] -- CMD...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	dms "github.com/dms-executor/dms-executor/clients/go"
)

func main() {
	system := flag.Bool("system", false, "use the system bus (default: the session bus)")
	id := flag.String("executor", "go-example", "executor id")
	config := flag.String("config", "", "executor config (YAML)")
	image := flag.String("image", "dms-test/busybox:latest", "image")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: run [flags] -- CMD...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	opts := []dms.Option{dms.WithConfig(*config)}
	if *system {
		opts = append(opts, dms.WithSystemBus())
	}
	ex, err := dms.NewExecutor(ctx, *id, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(125)
	}
	defer ex.Close()

	req := &dms.ExecutionRequest{
		JobID: "go-example",
		EngineSpec: dms.EngineSpec{Type: "docker", Params: map[string]interface{}{
			"image": *image, "entrypoint": flag.Args()[:1], "cmd": flag.Args()[1:],
		}},
	}
	res, err := ex.Run(ctx, req)
	if errors.Is(err, dms.ErrImage) {
		fmt.Fprintln(os.Stderr, "run: no such image:", err)
		os.Exit(125)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(125)
	}
	fmt.Print(res.Stdout)
	fmt.Fprint(os.Stderr, res.Stderr)
	if res.ErrorMsg != nil {
		fmt.Fprintln(os.Stderr, "run:", *res.ErrorMsg)
	}
	os.Exit(res.ExitCode)
}
