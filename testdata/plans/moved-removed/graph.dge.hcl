# The moved graph once its moved block is removed (live: as its apply left
# the vhost, the old key still bound).
# The reference graph: computes (2x)·(x²) = 2x³, then waits on an external
# system before handing the result on. README.md, "The language", explains it.

graph "arith" {
  handlers   = "github.com/dgehq/dge/examples/arith/behaviour" # Go import path of the handlers
  on_failure = "AcceptFailure"                                 # called when a message is parked
}

broker {
  vhost      = var.vhost
  queue_type = "quorum" # "quorum" (default) or "classic"
}

variable "vhost" {
  default = "/"
}

start "start" {}

fan_out "duplicate_input" {
  from    = start.start
  queue   = "input"
  message = "Integer" # a type in the handlers package
  retry   = "10s"
}

process "double" {
  from    = fan_out.duplicate_input
  queue   = "input_copy_1"
  message = "Integer"
  handler = "Double" # func(context.Context, behaviour.Integer) (behaviour.Integer, error)
}

process "square" {
  from    = fan_out.duplicate_input
  queue   = "input_copy_2"
  message = "Integer"
  handler = "Square"
}

aggregate "multiply" {
  from    = [process.double, process.square] # one part from each, joined per run
  queue   = "multiply"
  message = "Integer"
  handler = "Multiply" # func(context.Context, []behaviour.Integer) (behaviour.Float, error)
}

poll "rest_call" {
  from     = aggregate.multiply
  queue    = "rest_call"
  message  = "Float"
  handler  = "RestCall" # func(context.Context, behaviour.Float) (out behaviour.Integer, done bool, err error)
  interval = "1s"
  timeout  = "10m"
}

terminate "result" {
  from    = poll.rest_call
  queue   = "results"
  message = "Integer"
}
