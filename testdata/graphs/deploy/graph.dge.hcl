# A graph that says how its nodes run: deploy blocks on several kinds,
# one value from a variable, one node left to the defaults.
graph "fib" {
  handlers = "example.com/fib/behaviour"
}

variable "fib_max" {
  type    = number
  default = 8
}

start "in" {}

split "numbers" {
  from    = start.in
  queue   = "numbers"
  message = "Range"
  handler = "Numbers"

  deploy {
    cpu    = "0.5"
    memory = "128Mi"
  }
}

process "fib" {
  from    = split.numbers
  queue   = "fib"
  message = "Number"
  handler = "FibAt"

  deploy {
    min_replicas      = 2
    max_replicas      = var.fib_max
    ready_per_replica = 50
    cpu               = "500m"
    memory            = "256Mi"
    shutdown_grace    = "1m"
    cooldown          = "90s"
  }
}

gather "sum" {
  from    = process.fib
  over    = split.numbers
  queue   = "sum"
  message = "Number"
  handler = "Sum"
  zero    = "NewTotal"

  deploy {
    max_replicas = 3
  }
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"

  deploy {
    shutdown_grace = "5s"
  }
}
