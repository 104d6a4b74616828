# The handlers package's folder is called "dge", like the alias generated
# code gives the runtime: the generator must pick another alias.
graph "clash" {
  handlers   = "github.com/dgehq/dge/internal/gen/testdata/clash/dge"
  on_failure = "Report"
}

start "in" {}

poll "wait" {
  from     = start.in
  queue    = "wait"
  message  = "Job"
  handler  = "Wait"
  interval = "250ms"
  timeout  = "36h"
}

terminate "out" {
  from    = poll.wait
  queue   = "out"
  message = "Job"
}
