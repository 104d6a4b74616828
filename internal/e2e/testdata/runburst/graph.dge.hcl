# dge run's acceptance graph (internal/e2e/run_test.go): each job takes
# 20 ms in process "work", which dge run scales between one and four
# replicas by its queue's ready messages.

graph "runburst" {
  handlers = "github.com/dgehq/dge/internal/e2e/testdata/runburst/behaviour"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

# The tests of dge run's refusals give another value to find main.go out
# of date with the graph.
variable "attempts" {
  default = 5
}

start "start" {}

process "work" {
  from    = start.start
  queue   = "work"
  message = "Job"
  handler = "Work"

  max_attempts = var.attempts

  deploy {
    min_replicas      = 1
    max_replicas      = 4
    ready_per_replica = 20
    shutdown_grace    = "10s"
    cooldown          = "3s"
  }
}

terminate "done" {
  from    = process.work
  queue   = "done"
  message = "Result"
}
