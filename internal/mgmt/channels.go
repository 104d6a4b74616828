package mgmt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// ChannelStatus is one open AMQP channel of a vhost as the management API
// last sampled it (every 5 s by default, so it lags).
type ChannelStatus struct {
	Name string // the broker's name for the channel: "<connection> (<number>)"
	// Connection is the name the client gave its connection
	// (connection_name: a dge program's is "<program> <command>"), else the
	// broker's name for it ("<client address> -> <broker address>").
	Connection string
	// ReturnUnroutable counts the messages the broker returned to the
	// channel as unroutable (312 NO_ROUTE: no queue bound to their key)
	// since the channel opened; ReturnUnroutableRate is their rate per
	// second.
	ReturnUnroutable     int64
	ReturnUnroutableRate float64
}

type channelStatusJSON struct {
	Name       string `json:"name"`
	Connection object[struct {
		Name string `json:"name"`
	}] `json:"connection_details"`
	MessageStats object[struct {
		ReturnUnroutable        int64                  `json:"return_unroutable"`
		ReturnUnroutableDetails struct{ Rate float64 } `json:"return_unroutable_details"`
	}] `json:"message_stats"`
}

// object is a JSON object of the management API that RabbitMQ writes as
// an empty array when it has no field (message_stats of a channel that
// published nothing: []); that decodes as the zero value.
type object[T any] struct{ v T }

func (o *object[T]) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var empty []json.RawMessage
		if err := json.Unmarshal(b, &empty); err != nil || len(empty) > 0 {
			return fmt.Errorf("want an object or [], got %.40s", b)
		}
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

type connectionNameJSON struct {
	Name             string `json:"name"`
	UserProvidedName string `json:"user_provided_name"`
}

// ChannelStatus returns the open channels of the vhost, with two requests
// (GET /api/vhosts/{vhost}/channels and .../connections, for the names
// the clients gave their connections). A user without the monitoring or
// administrator tag sees only the channels of its own connections.
func (c *Client) ChannelStatus(ctx context.Context, vhost string) ([]ChannelStatus, error) {
	var chans []channelStatusJSON
	op := fmt.Sprintf("list channels of vhost %q", vhost)
	q := url.Values{"columns": {"name,connection_details.name,message_stats.return_unroutable,message_stats.return_unroutable_details.rate"}}
	if err := c.getJSON(ctx, op, vhost, "vhosts/"+vhostPath(vhost)+"/channels", q, &chans); err != nil {
		return nil, c.hintVhostMissing(err, vhost)
	}
	var conns []connectionNameJSON
	op = fmt.Sprintf("list connections of vhost %q", vhost)
	q = url.Values{"columns": {"name,user_provided_name"}}
	if err := c.getJSON(ctx, op, vhost, "vhosts/"+vhostPath(vhost)+"/connections", q, &conns); err != nil {
		return nil, c.hintVhostMissing(err, vhost)
	}
	return decodeChannelStatus(chans, conns), nil
}

// channelConnection returns the broker's name for the connection of the
// channel the broker names name ("<connection> (<number>)").
func channelConnection(name string) string {
	if i := strings.LastIndex(name, " ("); i >= 0 && strings.HasSuffix(name, ")") {
		return name[:i]
	}
	return name
}

func decodeChannelStatus(chans []channelStatusJSON, conns []connectionNameJSON) []ChannelStatus {
	given := make(map[string]string, len(conns))
	for _, c := range conns {
		if c.UserProvidedName != "" {
			given[c.Name] = c.UserProvidedName
		}
	}
	out := make([]ChannelStatus, 0, len(chans))
	for _, ch := range chans {
		conn := ch.Connection.v.Name
		if conn == "" {
			// RabbitMQ 3.10.8 sometimes writes connection_details as []
			// (it failed TestRenameWithOldProgramRunning once: status
			// named connection ""); the channel's own name starts with
			// its connection's.
			conn = channelConnection(ch.Name)
		}
		if n, ok := given[conn]; ok {
			conn = n
		}
		out = append(out, ChannelStatus{
			Name: ch.Name, Connection: conn,
			ReturnUnroutable: ch.MessageStats.v.ReturnUnroutable, ReturnUnroutableRate: ch.MessageStats.v.ReturnUnroutableDetails.Rate,
		})
	}
	return out
}
