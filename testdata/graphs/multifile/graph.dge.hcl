# One graph split over several files: every *.dge.hcl file in the folder
# belongs to it. This file holds the graph and broker settings.
graph "orders" {
  handlers = "example.com/shop/orders"
}

broker {
  vhost          = "/shop"
  queue_type     = "classic"
  work_exchange  = "shop.orders"
  retry_exchange = "shop.orders.retry"
  adopt          = ["legacy_orders"]
}
