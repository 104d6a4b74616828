package mgmt

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// StatusColumns are the columns QueueStatus asks of the queue listing:
// counts, consumers, rates, the head message's timestamp, the policy and
// operator policy.
// Nested columns (message_stats.publish_details.rate) keep the answer to
// the few numbers dge shows.
const StatusColumns = "name,policy,operator_policy,messages,messages_ready,messages_unacknowledged,messages_dlx,consumers," +
	"consumer_utilisation,head_message_timestamp," +
	"message_stats.publish_details.rate,message_stats.deliver_get_details.rate"

// QueueStatus is one queue's statistics as the management API last sampled
// them (every 5 s by default, so they lag). A statistic the broker has not
// sampled yet, or does not give for the queue's type, is zero.
type QueueStatus struct {
	Name           string
	Messages       int64 // ready and unacknowledged
	Ready          int64
	Unacknowledged int64
	Consumers      int64
	// ConsumerUtilisation is the fraction of time (0 to 1) the queue could
	// deliver to its consumers at once; nil when the broker gives none.
	ConsumerUtilisation *float64
	PublishRate         float64 // messages per second published into the queue
	DeliverRate         float64 // messages per second delivered or fetched
	// HeadMessageTimestamp is the timestamp property of the oldest ready
	// message; zero when the queue is empty, the message carries none, or
	// the queue type does not report it (quorum queues on RabbitMQ 3.10).
	HeadMessageTimestamp time.Time
	// Policy is the name of the policy RabbitMQ applies to the queue, ""
	// for none. It lags a policy change by about 5 seconds.
	Policy string
	// OperatorPolicy is the name of the operator policy merged into it,
	// "" for none; it lags like Policy.
	OperatorPolicy string
	// DeadLetterBuffered counts the messages a quorum queue holds in its
	// dead-letter buffer (messages_dlx): messages it dead-lettered
	// at-least-once and could not deliver, such as those RabbitMQ stops in
	// a dead-letter cycle. No consumer reaches them. Messages counts them.
	DeadLetterBuffered int64
}

// queueStatusJSON is one row of the listing with StatusColumns.
type queueStatusJSON struct {
	Name                 string   `json:"name"`
	Policy               *string  `json:"policy"`
	OperatorPolicy       *string  `json:"operator_policy"`
	DeadLetterBuffered   int64    `json:"messages_dlx"`
	Messages             int64    `json:"messages"`
	Ready                int64    `json:"messages_ready"`
	Unacknowledged       int64    `json:"messages_unacknowledged"`
	Consumers            int64    `json:"consumers"`
	ConsumerUtilisation  *float64 `json:"consumer_utilisation"`
	HeadMessageTimestamp *int64   `json:"head_message_timestamp"`
	MessageStats         struct {
		Publish    struct{ Rate float64 } `json:"publish_details"`
		DeliverGet struct{ Rate float64 } `json:"deliver_get_details"`
	} `json:"message_stats"`
}

// QueueStatus returns the statistics of every queue of the vhost, with one
// request (GET /api/queues/{vhost}?columns=StatusColumns) that any user
// with the management (or monitoring) tag and permissions on the vhost may
// make: unlike Read it needs no definitions, so no fallback for users
// without the administrator tag. A missing vhost is an *Error whose hint
// says how to create it.
func (c *Client) QueueStatus(ctx context.Context, vhost string) ([]QueueStatus, error) {
	var rows []queueStatusJSON
	op := fmt.Sprintf("list queues of vhost %q", vhost)
	q := url.Values{"columns": {StatusColumns}}
	if err := c.getJSON(ctx, op, vhost, "queues/"+vhostPath(vhost), q, &rows); err != nil {
		return nil, c.hintVhostMissing(err, vhost)
	}
	return decodeQueueStatus(rows), nil
}

func decodeQueueStatus(rows []queueStatusJSON) []QueueStatus {
	out := make([]QueueStatus, 0, len(rows))
	for _, r := range rows {
		s := QueueStatus{
			Name: r.Name, Messages: r.Messages, Ready: r.Ready, Unacknowledged: r.Unacknowledged,
			Consumers: r.Consumers, ConsumerUtilisation: r.ConsumerUtilisation, DeadLetterBuffered: r.DeadLetterBuffered,
			PublishRate: r.MessageStats.Publish.Rate, DeliverRate: r.MessageStats.DeliverGet.Rate,
		}
		if r.Policy != nil {
			s.Policy = *r.Policy
		}
		if r.OperatorPolicy != nil {
			s.OperatorPolicy = *r.OperatorPolicy
		}
		if r.HeadMessageTimestamp != nil && *r.HeadMessageTimestamp > 0 {
			s.HeadMessageTimestamp = time.Unix(*r.HeadMessageTimestamp, 0)
		}
		out = append(out, s)
	}
	return out
}
