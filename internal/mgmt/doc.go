// Package mgmt is dge's one adapter to the RabbitMQ management HTTP API.
//
// It resolves where the API is and which credentials to use (Resolve),
// reads a vhost's live state for plan with a constant number of requests
// (Client.Read: GET /api/definitions/{vhost} and one GET /api/queues/{vhost}
// with only the needed columns, never paginated), and writes the objects
// apply declares and deletes, through rabbit-hole. The two reads go through
// net/http with the same credentials and transport, because they need the
// raw response (to decode vhost names exactly and to capture fixtures).
//
// Client.QueueStatus reads what dge status shows with one request: the
// vhost's queue listing with only the counts, rates and policy columns.
//
// ApplyBroker implements apply.Broker over a Client: it turns the refusals
// apply acts upon into apply's errors, so that apply knows nothing of HTTP
// or of this package.
//
// Every error is one line that says what to do: an unreachable API, refused
// credentials (401), a missing vhost (404), a permission denied (403); any
// other broker error is shown with the broker's own words. No error, and
// nothing this package returns, contains the password.
package mgmt
