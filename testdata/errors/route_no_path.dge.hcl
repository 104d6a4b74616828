graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

route "by_kind" { # ERROR: Route with no path
  from    = start.in
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}

terminate "out" { # ERROR: Missing required argument
  queue   = "out"
  message = "Doc"
}
