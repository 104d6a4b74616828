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

start "start" {}

process "work" {
  from    = start.start
  queue   = "work"
  message = "Job"
  handler = "Work"

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
