# The split and gather benchmark's graph (internal/e2e/bench_split_test.go):
# a Count is split into that many items, each goes through a plain process
# hop, and a fold sums them. The hop alone, fed the same items directly,
# is what the split and the fold are measured against.

graph "splitbench" {
  handlers = "github.com/dgehq/dge/internal/e2e/testdata/splitbench/behaviour"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

start "start" {}

split "items" {
  from    = start.start
  queue   = "items"
  message = "Count"
  handler = "Items"
}

process "work" {
  from    = split.items
  queue   = "work"
  message = "Item"
  handler = "Work"
}

gather "sum" {
  from    = process.work
  over    = split.items
  queue   = "sum"
  message = "Item"
  handler = "Add"
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"
}
