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

gather "joined" { # ERROR: Missing required argument
  from    = split.items
  queue   = "joined"
  message = "Item"
  handler = "All"
}

terminate "out" {
  from    = gather.joined
  queue   = "out"
  message = "Result"
}
