# The seed's example: the numbers of a range, split, each mapped to its
# Fibonacci number on any instance, folded into their sum.
graph "fib" {
  handlers = "example.com/fib/behaviour"
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
