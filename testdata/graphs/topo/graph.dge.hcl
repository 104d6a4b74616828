# Address order differs from data-flow order, to check the topological sort:
# nodes come out after the nodes their from names, ties broken by address.
graph "topo" {
  handlers = "example.com/topo/behaviour"
}

terminate "a_end" {
  from    = aggregate.b_join
  queue   = "a_end"
  message = "Sum"
}

aggregate "b_join" {
  from    = [process.z_right, process.c_left]
  queue   = "b_join"
  message = "Num"
  handler = "Join"
  timeout = "30s"
}

process "c_left" {
  from    = fan_out.y_split
  queue   = "c_left"
  message = "Num"
  handler = "Left"
}

process "z_right" {
  from    = fan_out.y_split
  queue   = "z_right"
  message = "Num"
  handler = "Right"
}

fan_out "y_split" {
  from    = start.x_in
  queue   = "y_split"
  message = "Num"
}

start "x_in" {}
