# End-to-end test graph for tracing (internal/e2e/trace_test.go): start →
# fan_out → three processes → aggregate → result, every node its own
# process, with the chain graph's handlers (Double fails twice on values
# from 1,000,000 up, so a run can be retried).

graph "diamond" {
  handlers = "github.com/dgehq/dge/testdata/e2e/chain/behaviour"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

start "start" {}

fan_out "split" {
  from    = start.start
  queue   = "input"
  message = "Number"
  retry   = "300ms"
}

process "double" {
  from         = fan_out.split
  queue        = "a_in"
  message      = "Number"
  handler      = "Double"
  retry        = "300ms"
  max_attempts = 5
}

process "increment" {
  from    = fan_out.split
  queue   = "b_in"
  message = "Number"
  handler = "Increment"
  retry   = "300ms"
}

process "square" {
  from    = fan_out.split
  queue   = "c_in"
  message = "Number"
  handler = "Square"
  retry   = "300ms"
}

aggregate "join" {
  from    = [process.double, process.increment, process.square]
  queue   = "join"
  message = "Number"
  handler = "Sum"
  retry   = "300ms"
  timeout = "10m"
}

terminate "result" {
  from    = aggregate.join
  queue   = "result"
  message = "Number"
}
