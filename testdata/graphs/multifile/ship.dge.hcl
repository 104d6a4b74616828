poll "ship" {
  from     = process.validate
  queue    = "orders.ship"
  message  = "ValidOrder"
  handler  = "Ship"
  interval = "30s"
}

terminate "shipped" {
  from    = poll.ship
  queue   = "orders.shipped"
  message = "Shipment"
  retry   = "1m"
}
