// Package behaviour holds the handlers of the end-to-end test graphs
// (chain, cluster and diamond).
//
// Double injects faults on chosen inputs so the end-to-end tests can watch
// the runtime's retry and parking rules across real processes:
//
//   - values from FailTwiceFrom up: the first two calls (per process) fail
//     with an ordinary error, the third succeeds;
//   - PermanentValue: fails with a permanent error;
//   - PanicValue: panics.
//
// CHAIN_DELAY (a Go duration) makes Double sleep that long per call, so a
// test can catch messages in flight.
package behaviour
