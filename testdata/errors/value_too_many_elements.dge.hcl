graph "g" {
  handlers = "example.com/g/behaviour"
}

locals {
  letters = split("", format("%200000s", "")) # ERROR: Value too large
}

broker {
  adopt = local.letters
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
