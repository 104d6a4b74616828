graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "publish" { # ERROR: Reserved node name
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.publish
  queue   = "out"
  message = "Result"
}
