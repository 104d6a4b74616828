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

gather "joined" {
  from    = split.items
  over    = split.items
  queue   = "joined"
  message = "Item"
  handler = "All"
  zero    = "Result" # ERROR: Function named like a message type
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
