// Package browsertest starts headless Chromium for a test and drives it over
// the DevTools protocol with github.com/chromedp/chromedp.
//
// The browser is Debian's chromium at /usr/bin/chromium, which
// scripts/ensure-tools.sh installs (make test runs it). A test whose machine
// has no browser fails, it never skips: a browser test that does not run
// proves nothing. Each Browser runs in a fresh user data directory, under the
// test's temporary directory, and is killed, with every process it started, in
// the test's Cleanup.
//
// Screenshots go to ArtifactDir: $DGE_TEST_ARTIFACTS, or dge-artifacts under
// the system's temporary directory.
package browsertest
