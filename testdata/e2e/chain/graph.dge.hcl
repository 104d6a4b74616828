# End-to-end test graph for the runtime: start → process → fan_out → two
# processes → two terminates. Its handlers inject failures on chosen inputs
# (see behaviour/behaviour.go).

graph "chain" {
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
  retry        = "300ms"
  max_attempts = 3
}

fan_out "split" {
  from    = process.double
  queue   = "doubled"
  message = "Number"
  retry   = "300ms"
}

process "increment" {
  from    = fan_out.split
  queue   = "left_in"
  message = "Number"
  handler = "Increment"
  retry   = "300ms"
}

process "square" {
  from    = fan_out.split
  queue   = "right_in"
  message = "Number"
  handler = "Square"
  retry   = "300ms"
}

terminate "left" {
  from    = process.increment
  queue   = "left"
  message = "Number"
}

terminate "right" {
  from    = process.square
  queue   = "right"
  message = "Number"
}
