graph "g" {
  handlers = "example.com/g/behaviour"
}

start "left" {}

start "right" {}

process "a" {
  from    = start.left
  queue   = "a"
  message = "Job"
  handler = "A"
}

process "b" {
  from    = start.right
  queue   = "b"
  message = "Job"
  handler = "B"
}

aggregate "join" {
  from    = [process.a, process.b] # ERROR: Aggregate inputs from different starts
  queue   = "join"
  message = "Part"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
