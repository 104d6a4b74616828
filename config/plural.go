package config

import "strconv"

// Plural returns n followed by noun, with an s added unless n is 1: "1 queue",
// "3 queues", "0 messages". It is how dge's own packages (config, plan,
// apply and the dge command) count things in diagnostics, plans and errors;
// nouns that do not take an s need PluralForm. The generated program's
// command line, in package runtime, has a copy of its own: runtime imports
// nothing of dge's configuration side.
func Plural[N ~int | ~int64](n N, noun string) string {
	return strconv.FormatInt(int64(n), 10) + " " + PluralForm(n, noun, noun+"s")
}

// PluralForm returns one when n is 1 and many otherwise, for the words
// Plural cannot form: PluralForm(n, "was", "were").
func PluralForm[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
