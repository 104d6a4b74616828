graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

broker {
  adopt = ["ok",
    "amq.bad"] # ERROR: Invalid adopt name
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
