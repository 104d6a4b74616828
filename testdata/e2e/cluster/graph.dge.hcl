# End-to-end test graph for failover on a private 3-node RabbitMQ cluster
# (internal/e2e/cluster_test.go): start → double → square → result, on
# quorum queues, with the chain graph's handlers. Its attempts are many and
# its retries short: after a broker node dies, RabbitMQ 3.10 may nack a
# channel's publishes to a quorum queue that lost its leader until the node
# opens a new channel, and each nack closes a channel, handing back its
# window as redeliveries, which count toward the crash threshold
# (max_attempts - 1).

graph "cluster" {
  handlers   = "github.com/dgehq/dge/testdata/e2e/chain/behaviour"
  on_failure = "RecordFailure"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

start "start" {}

process "double" {
  from         = start.start
  queue        = "input"
  message      = "Number"
  handler      = "Double"
  retry        = "1s"
  max_attempts = 30
}

process "square" {
  from         = process.double
  queue        = "doubled"
  message      = "Number"
  handler      = "Square"
  retry        = "1s"
  max_attempts = 30
}

terminate "result" {
  from    = process.square
  queue   = "result"
  message = "Number"
}
