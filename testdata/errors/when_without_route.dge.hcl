graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  when    = "invoice" # ERROR: Unexpected when
  queue   = "work"
  message = "Doc"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Doc"
}
