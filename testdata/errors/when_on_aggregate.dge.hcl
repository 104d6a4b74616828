graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}

process "left" {
  from    = fan_out.copy
  queue   = "left"
  message = "Doc"
  handler = "Left"
}

process "right" {
  from    = fan_out.copy
  queue   = "right"
  message = "Doc"
  handler = "Right"
}

aggregate "join" {
  from    = [process.left, process.right]
  when    = "invoice" # ERROR: Unsupported argument
  queue   = "join"
  message = "Doc"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Doc"
}
