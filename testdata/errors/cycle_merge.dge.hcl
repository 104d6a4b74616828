graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "a" {
  from    = [start.in, process.b]
  queue   = "a"
  message = "Doc"
  handler = "A"
}

fan_out "copy" {
  from    = process.a # ERROR: Cycle in graph
  queue   = "copy"
  message = "Doc"
}

process "b" {
  from    = fan_out.copy
  queue   = "b"
  message = "Doc"
  handler = "B"
}

terminate "out" {
  from    = fan_out.copy
  queue   = "out"
  message = "Doc"
}
