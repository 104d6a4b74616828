graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" { # WARNING: fan_out with one output
  from    = start.in
  queue   = "copy"
  message = "Job"
}

terminate "out" {
  from    = fan_out.copy
  queue   = "out"
  message = "Job"
}
