package config

import "strconv"

// Plural returns n followed by noun, with an s added unless n is 1: "1 queue",
// "3 queues", "0 messages". It is how dge's messages count things, in
// diagnostics, plans and errors alike; nouns that do not take an s are not
// supported.
func Plural[N ~int | ~int64](n N, noun string) string {
	s := strconv.FormatInt(int64(n), 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
