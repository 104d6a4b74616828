graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}

process "check" {
  from    = fan_out.copy
  queue   = "check"
  message = "Doc"
  handler = "Check"
}

terminate "out" {
  from = [process.check,
    fan_out.copy] # ERROR: Merge inputs carry different types
  queue   = "out"
  message = "Result"
}
