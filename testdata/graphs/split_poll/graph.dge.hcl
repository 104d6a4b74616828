# A split of a poll chain: each item starts a job that is polled until it
# is done, then read; the results are folded into a report.
graph "jobs" {
  handlers = "example.com/jobs/behaviour"
}

start "in" {}

split "tasks" {
  from    = start.in
  queue   = "tasks"
  message = "Request"
  handler = "Tasks"
}

process "submit" {
  from    = split.tasks
  queue   = "submit"
  message = "Task"
  handler = "Submit"
}

poll "wait" {
  from     = process.submit
  queue    = "wait"
  message  = "Job"
  handler  = "Check"
  interval = "10s"
}

process "fetch" {
  from    = poll.wait
  queue   = "fetch"
  message = "Done"
  handler = "Fetch"
}

gather "report" {
  from    = process.fetch
  over    = split.tasks
  queue   = "report"
  message = "Output"
  handler = "AddOutput"
  zero    = "NewReport"
}

terminate "out" {
  from    = gather.report
  queue   = "out"
  message = "Report"
}
