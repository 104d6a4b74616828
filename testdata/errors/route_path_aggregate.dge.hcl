graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}

route "by_kind" {
  from    = fan_out.copy
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}

process "check" {
  from    = fan_out.copy
  queue   = "check"
  message = "Doc"
  handler = "Check"
}

aggregate "join" {
  from    = [route.by_kind, # ERROR: Invalid route path
    process.check]
  queue   = "join"
  message = "Doc"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Doc"
}
