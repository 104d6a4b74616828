# The seed's split/gather example, planned into an empty vhost: the gather's
# edge sum gets its state queue sum.state (single active consumer, no
# dead-letter exchange, no policy) beside sum, sum.retry and sum.dead.
graph "fib" {
  handlers = "example.com/fib/behaviour"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

start "in" {}

split "numbers" {
  from    = start.in
  queue   = "numbers"
  message = "Range"
  handler = "Numbers"
}

process "fib" {
  from    = split.numbers
  queue   = "fib"
  message = "Number"
  handler = "FibAt"
}

gather "sum" {
  from    = process.fib
  over    = split.numbers
  queue   = "sum"
  message = "Number"
  handler = "Sum"
  zero    = "NewTotal"
  timeout = "30m"
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"
}
