graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

split "items" {
  from    = start.in
  queue   = "items"
  message = "Batch"
  handler = "Items"
  over    = split.items # ERROR: Unsupported argument
}

gather "joined" {
  from    = split.items
  over    = split.items
  queue   = "joined"
  message = "Item"
  handler = "All"
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
