# The arith graph, for stubs: handlers/written.go declares part of what it
# names, handlers/stubs.go is what gen.Stubs adds (golden).

graph "arith" {
  handlers   = "github.com/dgehq/dge/internal/gen/testdata/stubs/handlers" # Go import path of the handlers
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
  queue   = "result"
  message = "Integer"
}

# Split and gather: a fold with a zero function and a list gather.
start "ranges" {}

fan_out "copy_ranges" {
  from    = start.ranges
  queue   = "ranges"
  message = "Range"
}

split "numbers" {
  from    = fan_out.copy_ranges
  queue   = "numbers"
  message = "Range"
  handler = "Numbers" # func(context.Context, handlers.Range) ([]handlers.Integer, error)
}

gather "sum" {
  from    = split.numbers
  over    = split.numbers
  queue   = "sum"
  message = "Integer"
  handler = "Sum"      # func(context.Context, handlers.Total, handlers.Integer) (handlers.Total, error)
  zero    = "NewTotal" # func() handlers.Total
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"
}

split "digits" {
  from    = fan_out.copy_ranges
  queue   = "digits"
  message = "Range"
  handler = "Digits"
}

gather "collect" {
  from    = split.digits
  over    = split.digits
  queue   = "collect"
  message = "Integer"
  handler = "Collect" # func(context.Context, []handlers.Integer) (handlers.Total, error)
}

terminate "collected" {
  from    = gather.collect
  queue   = "collected"
  message = "Total"
}

# Routes: one with a default path (its stub takes it), one without (its
# stub takes the first label).
start "kinds" {}

route "by_kind" {
  from    = start.kinds
  queue   = "kinds"
  message = "Integer"
  handler = "Kind" # func(context.Context, handlers.Integer) (string, error)
}

terminate "small" {
  from    = route.by_kind
  when    = "small"
  queue   = "small"
  message = "Integer"
}

terminate "rest" {
  from    = route.by_kind
  when    = "*"
  queue   = "rest"
  message = "Integer"
}

start "signs" {}

route "by_sign" {
  from    = start.signs
  queue   = "signs"
  message = "Integer"
  handler = "Sign"
}

terminate "positive" {
  from    = route.by_sign
  when    = "positive"
  queue   = "positive"
  message = "Integer"
}

terminate "negative" {
  from    = route.by_sign
  when    = "negative"
  queue   = "negative"
  message = "Integer"
}
