graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Document"
}

split "pages" { # ERROR: Node feeds nothing # ERROR: Split never gathered
  from    = fan_out.copy
  queue   = "pages"
  message = "Document"
  handler = "Pages"
}

process "store" {
  from    = fan_out.copy
  queue   = "store"
  message = "Document"
  handler = "Store"
}

terminate "out" {
  from    = process.store
  queue   = "out"
  message = "Receipt"
}
