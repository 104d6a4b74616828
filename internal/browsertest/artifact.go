package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// ArtifactEnv names the folder where tests save their artifacts.
const ArtifactEnv = "DGE_TEST_ARTIFACTS"

var announce sync.Once

// ArtifactDir returns the folder for test artifacts, made if missing:
// $DGE_TEST_ARTIFACTS, or dge-artifacts under os.TempDir(). The first call in
// a test binary logs where it is.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ArtifactEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dge-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact folder (set %s to change it): %v", ArtifactEnv, err)
	}
	announce.Do(func() { t.Logf("test artifacts in %s (set %s to change)", dir, ArtifactEnv) })
	return dir
}

// Screenshot saves a PNG of the whole page in the tab as name (e.g.
// "console-graph.png") in ArtifactDir and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
	b.t.Logf("screenshot %s", path)
	return path
}
