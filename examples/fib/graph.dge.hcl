# The seed's example of data parallelism: a range of numbers is split into
# its numbers, each mapped to its Fibonacci number on whichever instance
# takes it, and folded into their sum. 1..10 gives 143. docs/language.md,
# "Split and gather", explains it.

graph "fib" {
  handlers   = "github.com/dgehq/dge/examples/fib/behaviour" # Go import path of the handlers
  on_failure = "LogFailure"                                  # called when a message is parked
}

broker {
  vhost      = var.vhost
  queue_type = "quorum"
}

variable "vhost" {
  default = "/"
}

start "start" {}

split "numbers" {
  from    = start.start
  queue   = "numbers"
  message = "Range" # func(context.Context, behaviour.Range) ([]behaviour.Number, error)
  handler = "Numbers"
}

process "fib" {
  from    = split.numbers # each number alone, on any instance
  queue   = "fib"
  message = "Number"
  handler = "FibAt"
}

gather "sum" {
  from    = process.fib
  over    = split.numbers # the split it closes
  queue   = "sum"
  message = "Number"
  handler = "Sum"      # the fold form: func(context.Context, behaviour.Total, behaviour.Number) (behaviour.Total, error)
  zero    = "NewTotal" # func() behaviour.Total: the fold's start
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"
}
