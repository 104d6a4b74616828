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
  queue   = "a"
  message = "Job"
  handler = "A"
}

fan_out "copy" {
  from    = process.a
  queue   = "copy"
  message = "Copied"
}

aggregate "join" {
  from    = [fan_out.copy, # ERROR: Aggregate inputs carry different types
    fan_out.split]
  queue   = "join"
  message = "Job"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}

terminate "side" {
  from    = fan_out.copy
  queue   = "side"
  message = "Copied"
}
