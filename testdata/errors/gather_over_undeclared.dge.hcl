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
  over    = split.itmes # ERROR: Reference to undeclared split
  queue   = "joined"
  message = "Item"
  handler = "All"
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
