graph "g" {
  handlers = "example.com/g/behaviour"
}

variable "prefix" {
  type    = string
  default = "%{for a in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}%{for b in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}%{for c in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}%{for d in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}%{for e in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}----------------------------------------------------------------%{endfor}%{endfor}%{endfor}%{endfor}%{endfor}" # ERROR: Value too large
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "${var.prefix}work"
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
