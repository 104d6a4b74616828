graph "g" { # ERROR: Missing start node
  handlers = "example.com/g/behaviour"
}

terminate "out" {
  from    = process.work # ERROR: Reference to undeclared node
  queue   = "out"
  message = "Result"
}
