graph "g" {
  handlers = "example.com/g/behaviour"
}

prefix = "dev_" # ERROR: Unsupported argument

start "in" {}

terminate "out" {
  from    = start.in
  queue   = "out"
  message = "Result"
}
