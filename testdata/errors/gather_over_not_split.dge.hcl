graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

split "items" {
  from    = start.in
  queue   = "items"
  message = "Batch"
  handler = "Items"
}

process "work" {
  from    = split.items
  queue   = "work"
  message = "Item"
  handler = "Work"
}

gather "joined" {
  from    = process.work
  over    = process.work # ERROR: Gather over a node that is not a split
  queue   = "joined"
  message = "Item"
  handler = "All"
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
