graph "g" {
  handlers = "example.com/g/behaviour"
}

# Each local doubles the one before, in a different way; the first over
# 1 MiB is the error, and those after it are not evaluated.
locals {
  k1  = format("%1024s", "x")
  k2  = "${local.k1}${local.k1}"
  k4  = join("", [local.k2, local.k2])
  k8  = replace(local.k4, " ", "  ")
  k16 = strrev(format("%s%s", local.k8, local.k8))
  k32 = upper("${local.k16}${local.k16}")
  k64 = "${local.k32}${local.k32}"
  m1  = "${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}${local.k64}"
  m2  = "${local.m1}${local.m1}" # ERROR: Value too large
  m4  = "${local.m2}${local.m2}"
  m8  = "${local.m4}${local.m4}"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = substr(local.m8, 0, 10)
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
