// Command orphancheck starts replicas through the local backend, prints
// "pid N" for every member, then "ready", and waits to be killed.
// TestNoOrphansAfterGatewayKill kills it with SIGKILL and checks that every
// member dies with it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/local"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: orphancheck STATE_DIR")
		os.Exit(2)
	}
	b := local.New(local.Options{StateDir: os.Args[1], Logger: slog.New(slog.DiscardHandler)})
	specs := []deploy.ReplicaSpec{
		{ID: "orphan#sleep", Command: []string{"sleep", "300"}},
		{ID: "orphan#multi", Command: []string{"sleep", "300"}, Hosts: 2},
		// Ignores SIGTERM: only SIGKILL ends it.
		{ID: "orphan#stubborn", Command: []string{"/bin/sh", "-c", `trap "" TERM; exec sleep 300`}},
	}
	for _, s := range specs {
		s.Application, s.Deployment = "orphan", "d"
		// Start from short-lived goroutines, as a controller would.
		errc := make(chan error)
		go func() {
			inst, err := b.Start(context.Background(), s)
			if err == nil {
				for _, m := range inst.Members() {
					fmt.Println("pid", m.PID)
				}
			}
			errc <- err
		}()
		if err := <-errc; err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	time.Sleep(10 * time.Minute) // the test kills us long before
	os.Exit(1)
}
