graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "split" {
  from    = start.in
  queue   = "split"
  message = "Job"
}

process "a" {
  from    = fan_out.split
  queue   = "work"
  message = "Job"
  handler = "A"
}

process "b" {
  from    = fan_out.split
  queue   = "work" # ERROR: Duplicate queue name
  message = "Job"
  handler = "B"
}

aggregate "join" {
  from    = [process.a, process.b]
  queue   = "join"
  message = "Part"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
