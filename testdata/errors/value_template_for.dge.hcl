graph "g" {
  handlers = "example.com/g/behaviour"
}

locals {
  digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
  # Nested loops repeat the text 100,000 times: 6.4 MB.
  banner = "%{for a in local.digits}%{for b in local.digits}%{for c in local.digits}%{for d in local.digits}%{for e in local.digits}----------------------------------------------------------------%{endfor}%{endfor}%{endfor}%{endfor}%{endfor}" # ERROR: Value too large
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
  message = substr(local.banner, 0, 6)
}
