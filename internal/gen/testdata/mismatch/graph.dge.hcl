# Handler-check corpus: a graph the loader accepts whose handlers package
# does not fit it. Every line that must draw a diagnostic ends with a
# "want:" comment naming the diagnostic's summary; the test matches
# diagnostics to these lines.
graph "mismatch" {
  handlers   = "github.com/dgehq/dge/internal/gen/testdata/mismatch/behaviour"
  on_failure = "BadFailure" # want: Wrong handler signature
}

start "in" {}

fan_out "spread" {
  from    = start.in
  queue   = "spread"
  message = "Integer"
}

process "good" {
  from    = fan_out.spread
  queue   = "good"
  message = "Integer"
  handler = "Double"
}

process "wrong_in" {
  from    = fan_out.spread
  queue   = "wrong_in"
  message = "Integer"
  handler = "TakesFloat" # want: Wrong handler signature
}

process "hidden" {
  from    = fan_out.spread
  queue   = "hidden"
  message = "Integer"
  handler = "Triple" # want: Handler not exported
}

process "no_ctx" {
  from    = fan_out.spread
  queue   = "no_ctx"
  message = "Integer"
  handler = "NoContext" # want: Wrong handler signature
}

process "no_error" {
  from    = fan_out.spread
  queue   = "no_error"
  message = "Integer"
  handler = "NoError" # want: Wrong handler signature
}

process "not_func" {
  from    = fan_out.spread
  queue   = "not_func"
  message = "Integer"
  handler = "Limit" # want: Handler is not a function
}

process "typo" {
  from    = fan_out.spread
  queue   = "typo"
  message = "Integer"
  handler = "Dubble" # want: Handler not found
}

process "generic" {
  from    = fan_out.spread
  queue   = "generic"
  message = "Integer"
  handler = "Identity" # want: Handler is generic
}

process "variadic" {
  from    = fan_out.spread
  queue   = "variadic"
  message = "Integer"
  handler = "Many" # want: Wrong handler signature
}

aggregate "join" {
  from    = [process.good, process.wrong_in, process.hidden, process.no_ctx, process.no_error, process.not_func, process.typo, process.generic, process.variadic]
  queue   = "join"
  message = "Integer"
  handler = "SumOne" # want: Wrong handler signature
}

poll "check" {
  from    = aggregate.join
  queue   = "check"
  message = "Float"
  handler = "CheckNoDone" # want: Wrong handler signature
}

process "to_chan" {
  from    = poll.check
  queue   = "to_chan"
  message = "Integer"
  handler = "ToChan"
}

terminate "done" {
  from    = process.to_chan
  queue   = "done"
  message = "WithChan" # want: Message type does not work with encoding/json
}

start "other" {}

terminate "lost" {
  from    = start.other
  queue   = "lost"
  message = "Intger" # want: Message type not found
}

start "third" {}

terminate "const" {
  from    = start.third
  queue   = "const"
  message = "Ceiling" # want: Message is not a type
}

# Typed parts: one parameter per part, in from order.
start "typed" {}

fan_out "typed_split" {
  from    = start.typed
  queue   = "typed_split"
  message = "Integer"
}

process "typed_int" {
  from    = fan_out.typed_split
  queue   = "typed_int"
  message = "Integer"
  handler = "Double"
}

process "typed_float" {
  from    = fan_out.typed_split
  queue   = "typed_float"
  message = "Integer"
  handler = "ToFloat"
}

process "typed_int2" {
  from    = fan_out.typed_split
  queue   = "typed_int2"
  message = "Integer"
  handler = "Double"
}

process "typed_float2" {
  from    = fan_out.typed_split
  queue   = "typed_float2"
  message = "Integer"
  handler = "ToFloat"
}

aggregate "typed_swapped" {
  from    = [process.typed_int, process.typed_float]
  queue   = "typed_swapped"
  message = ["Integer", "Float"]
  handler = "Swapped" # want: Wrong handler signature
}

aggregate "typed_slice" {
  from    = [process.typed_int2, process.typed_float2]
  queue   = "typed_slice"
  message = ["Integer", "Float"]
  handler = "SumSlice" # want: Wrong handler signature
}

terminate "typed_out" {
  from    = aggregate.typed_swapped
  queue   = "typed_out"
  message = "Integer"
}

terminate "typed_out2" {
  from    = aggregate.typed_slice
  queue   = "typed_out2"
  message = "Float"
}

# Split and gather: a split returning one item, not a list; a gather in
# neither form; a zero beside a list handler; a zero of the wrong type; a
# fold whose accumulator is not the output type and a zero that is missing.
start "ranges" {}

fan_out "ranges_copy" {
  from    = start.ranges
  queue   = "ranges_copy"
  message = "Integer"
}

split "split_one" {
  from    = fan_out.ranges_copy
  queue   = "split_one"
  message = "Integer"
  handler = "ToFloat" # want: Wrong handler signature
}

gather "neither" {
  from    = split.split_one
  over    = split.split_one
  queue   = "neither"
  message = "Float"
  handler = "SumSlice" # want: Wrong handler signature
}

terminate "neither_out" {
  from    = gather.neither
  queue   = "neither_out"
  message = "Float"
}

split "split_list" {
  from    = fan_out.ranges_copy
  queue   = "split_list"
  message = "Integer"
  handler = "Digits"
}

gather "zero_with_list" {
  from    = split.split_list
  over    = split.split_list
  queue   = "zero_with_list"
  message = "Integer"
  handler = "SumSlice"
  zero    = "NewFloat" # want: Zero needs the fold form
}

terminate "zero_with_list_out" {
  from    = gather.zero_with_list
  queue   = "zero_with_list_out"
  message = "Float"
}

split "split_zero" {
  from    = fan_out.ranges_copy
  queue   = "split_zero"
  message = "Integer"
  handler = "Digits"
}

gather "zero_wrong" {
  from    = split.split_zero
  over    = split.split_zero
  queue   = "zero_wrong"
  message = "Integer"
  handler = "AddDigit"
  zero    = "Double" # want: Wrong zero signature
}

terminate "zero_wrong_out" {
  from    = gather.zero_wrong
  queue   = "zero_wrong_out"
  message = "Float"
}

split "split_fold" {
  from    = fan_out.ranges_copy
  queue   = "split_fold"
  message = "Integer"
  handler = "Digits"
}

gather "fold_wrong" {
  from    = split.split_fold
  over    = split.split_fold
  queue   = "fold_wrong"
  message = "Integer"
  handler = "AddDigit" # want: Wrong handler signature
  zero    = "NewTotal" # want: Zero function not found
}

terminate "fold_wrong_out" {
  from    = gather.fold_wrong
  queue   = "fold_wrong_out"
  message = "Integer"
}

# Routes: a handler that returns a message, not a label; one that takes
# another message type than the route's.
start "routes" {}

fan_out "routes_copy" {
  from    = start.routes
  queue   = "routes_copy"
  message = "Integer"
}

route "label_message" {
  from    = fan_out.routes_copy
  queue   = "label_message"
  message = "Integer"
  handler = "Double" # want: Wrong handler signature
}

terminate "label_message_one" {
  from    = route.label_message
  when    = "one"
  queue   = "label_message_one"
  message = "Integer"
}

terminate "label_message_rest" {
  from    = route.label_message
  when    = "*"
  queue   = "label_message_rest"
  message = "Integer"
}

route "label_float" {
  from    = fan_out.routes_copy
  queue   = "label_float"
  message = "Integer"
  handler = "LabelFloat" # want: Wrong handler signature
}

terminate "label_float_one" {
  from    = route.label_float
  when    = "one"
  queue   = "label_float_one"
  message = "Integer"
}
