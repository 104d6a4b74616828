package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestURLVhost checks which vhost DGE_AMQP_URL connects to: a URL without
// a path keeps the graph's vhost; a URL naming another vhost is used, as
// the log says once, without a warning (the graph's vhost is a default,
// which the URL's path, DGE_VHOST and -vhost override), and every
// not-found error names the vhost connected to.
func TestURLVhost(t *testing.T) {
	h := newHarness(t, chainGraph("urlvhost", double))
	base := strings.TrimSuffix(brokertest.AMQPURL(t), "/")
	if strings.Count(base, "/") != 2 {
		t.Fatalf("test broker URL %s has a path; this test needs one without", brokertest.AMQPURL(t))
	}
	code, out, _ := runWith(t, h.g, base, 20*time.Second, "publish", "start", `{"value": 1}`)
	if code != 0 || strings.Contains(out, "names vhost") {
		t.Fatalf("publish with a URL without a path: exit %d, output:\n%s\nwant it to publish to the graph's vhost, without a warning", code, out)
	}
	if n := h.count("input"); n != 1 {
		t.Errorf("the graph's vhost holds %d messages in input, want 1", n)
	}

	other := brokertest.NewVhost(t) // exists, without the graph's topology
	for _, args := range commandsUnderTest {
		t.Run(args[0], func(t *testing.T) {
			code, out, _ := runWith(t, h.g, other.AMQPURL, 20*time.Second, args...)
			using := fmt.Sprintf(`"msg":"using vhost","graph":"urlvhost","vhost":"%s","from":"the path of DGE_AMQP_URL"`, other.Name)
			if code != 1 || strings.Count(out, using) != 1 || strings.Contains(out, `"level":"WARN"`) {
				t.Errorf("exit %d, output:\n%s\nwant 1, the line %s once and no warning", code, out, using)
			}
			if !strings.Contains(out, fmt.Sprintf(`not found in vhost %q`, other.Name)) {
				t.Errorf("output:\n%s\nwant a not-found error naming vhost %s", out, other.Name)
			}
		})
	}
}
