// Package testenv holds what Gantry's tests share, so that each helper is written (and
// fixed) once:
//
//   - Build and RunWithBinaries compile the programs end-to-end tests run as real
//     processes (a TestMain's whole body).
//   - FreePort, FreePorts, FreePortsOn and FreeAddr find TCP ports that were free a moment
//     ago, for programs that take ports as flags; several at once never repeat.
//   - Get, TryGet, Call and Do send HTTP requests with a RequestTimeout and no kept
//     connections, read the whole body and close it, so no request hangs a test and no
//     client goroutine outlives it.
//   - WaitFor and Eventually poll a condition with a deadline: tests wait for events this
//     way, never by sleeping. WaitFor fails the test naming what it waited for.
//   - StartProc runs a program as a child process (Proc) that cannot outlive the test,
//     collecting its output and logging it when the test fails; Proc.Until polls a
//     condition while the process runs.
//   - Alive tells a live process from a gone or zombie one; SyncBuffer collects a child's
//     output safely.
//   - ProcessesWithEnv, CommandsWithEnv and KillProcessesWithEnv find (and end) the
//     processes carrying a test's marker in their environment, descendants included.
//   - Samples reads a metric's samples, with their labels, out of a /metrics text.
//
// It is imported by tests and test harnesses only, never by the gateway.
package testenv
