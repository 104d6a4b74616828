prefix = "prod_"
vhost  = "/prod"
tuning = { prefetch = 64, concurrency = 16 }
region = "eu" # not declared by the graph: a warning
