// Package supervise runs a graph's nodes on one machine, as dge run does:
// each node's replicas are processes of the generated program (`<program>
// <node-command> -shutdown-timeout <grace>`), started, restarted and
// scaled by a Supervisor.
//
//   - A replica that exits without being asked to (a crash, an error exit,
//     SIGKILL) is started again after a backoff that doubles from
//     Options.MinBackoff (100 ms) to Options.MaxBackoff (10 s) and starts
//     over once a replica has run Options.ResetAfter (30 s). More than
//     Options.CrashLoopRestarts restarts of a node within
//     Options.CrashLoopWindow is a crash loop: an event, and the node's
//     status line says so, while the restarts go on.
//   - Every Options.Interval (1 s) the Supervisor counts each node's queue's
//     ready messages through a Counter and applies the node's scale.Rule
//     (internal/scale): replicas are added at once; after the cooldown they
//     are removed one at a time by SIGTERM, so each finishes its messages in
//     flight, the highest-numbered first.
//   - Every replica's stdout and stderr lines are merged onto one writer by
//     a Console, each prefixed with its node and replica ("process.fib#2 |
//     ..."), whole lines only; on a terminal a status line per node
//     (replicas, ready messages) is redrawn under them.
//   - Everything that happens is an Event (started, exited, restarted,
//     scaled, crash-loop, stopped), given to Options.Events and written to
//     the Console as a "dge | ..." line.
//   - When the context ends, every replica gets SIGTERM, then its grace
//     period; SIGKILL ends what remains.
//
// The package never prints a broker URL: replicas inherit the environment,
// and errors pass through Options.Scrub.
package supervise
