// Command orphancheck starts replicas through the local backend, prints
// "pid N" for every member, "addr HOST:PORT" for the replica that serves,
// then "ready", and waits to be killed. TestNoOrphansAfterGatewayKill kills
// it with SIGKILL and checks that every member, and every process a member
// started, dies with it.
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
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: orphancheck STATE_DIR SERVER MARK")
		os.Exit(2)
	}
	server, mark := os.Args[2], os.Args[3]
	b := local.New(local.Options{StateDir: os.Args[1], Logger: slog.New(slog.DiscardHandler)})
	specs := []deploy.ReplicaSpec{
		{ID: "orphan#sleep", Command: []string{"sleep", "300"}},
		{ID: "orphan#multi", Command: []string{"sleep", "300"}, Hosts: 2},
		// Ignores SIGTERM: only SIGKILL ends it.
		{ID: "orphan#stubborn", Command: []string{"/bin/sh", "-c", `trap "" TERM; exec sleep 300`}},
		// Leaves processes behind in its group, in a session of their own,
		// and double-forked, then serves. Every one carries MARK.
		{
			ID:      "orphan#descendants",
			Command: []string{"/bin/sh", "-c", `sleep 321 & setsid sleep 322 & (setsid sleep 323 &); exec "$SERVER"`},
			Env:     map[string]string{"SERVER": server, "ORPHANCHECK_MARK": mark},
		},
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
				if s.Env != nil {
					fmt.Println("addr", inst.Address())
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
