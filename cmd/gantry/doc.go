// Command gantry is the Gantry gateway and its tools.
//
//	gantry serve [CONFIG] [--http-port N] [--grpc-port N] [--dashboard-port N] [--state-dir DIR]
//	gantry example painter        run the Stable Diffusion example's painter as a replica
//	gantry imagine [flags]        send prompts to the example and tile the pictures
//
// This package only parses flags and wires components; the logic lives in
// serve, deploy, router and replica.
package main
