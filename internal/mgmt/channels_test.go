package mgmt

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeChannelStatus decodes channel and connection listings as
// RabbitMQ 3.10 writes them: message_stats is [] on a channel that
// published nothing, and a connection's given name replaces the broker's;
// connection_details is sometimes [], and the channel's name tells the
// connection then.
func TestDecodeChannelStatus(t *testing.T) {
	chans := `[
  {"connection_details":{"name":"127.0.0.1:1 -> 127.0.0.1:5672"},"message_stats":[],"name":"127.0.0.1:1 -> 127.0.0.1:5672 (1)"},
  {"connection_details":{"name":"127.0.0.1:1 -> 127.0.0.1:5672"},"message_stats":{"return_unroutable":3,"return_unroutable_details":{"rate":0.4}},"name":"127.0.0.1:1 -> 127.0.0.1:5672 (2)"},
  {"connection_details":[],"name":"127.0.0.1:2 -> 127.0.0.1:5672 (1)"},
  {"connection_details":[],"message_stats":{"return_unroutable":1},"name":"127.0.0.1:1 -> 127.0.0.1:5672 (3)"}
]`
	conns := `[{"name":"127.0.0.1:1 -> 127.0.0.1:5672","user_provided_name":"c a"},{"name":"127.0.0.1:2 -> 127.0.0.1:5672"}]`
	var cs []channelStatusJSON
	if err := json.Unmarshal([]byte(chans), &cs); err != nil {
		t.Fatal(err)
	}
	var ns []connectionNameJSON
	if err := json.Unmarshal([]byte(conns), &ns); err != nil {
		t.Fatal(err)
	}
	want := []ChannelStatus{
		{Name: "127.0.0.1:1 -> 127.0.0.1:5672 (1)", Connection: "c a"},
		{Name: "127.0.0.1:1 -> 127.0.0.1:5672 (2)", Connection: "c a", ReturnUnroutable: 3, ReturnUnroutableRate: 0.4},
		{Name: "127.0.0.1:2 -> 127.0.0.1:5672 (1)", Connection: "127.0.0.1:2 -> 127.0.0.1:5672"},
		{Name: "127.0.0.1:1 -> 127.0.0.1:5672 (3)", Connection: "c a", ReturnUnroutable: 1},
	}
	if diff := cmp.Diff(want, decodeChannelStatus(cs, ns)); diff != "" {
		t.Errorf("decodeChannelStatus (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`[{"message_stats":[1]}]`), &cs); err == nil {
		t.Error("a non-empty array as message_stats decoded without error")
	}
}
