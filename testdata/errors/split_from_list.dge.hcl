graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {} # ERROR: Node feeds nothing

split "items" {
  from    = [start.in] # ERROR: Invalid from
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
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
