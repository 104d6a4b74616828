graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

route "by_kind" {
  from    = start.in
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}

terminate "others" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
}

terminate "rest" {
  from    = route.by_kind
  when    = "*" # ERROR: Duplicate default path
  queue   = "rest"
  message = "Doc"
}
