package behaviour

// ResetChecks forgets RestCall's check counts, so each test starts afresh
// (also under go test -count=N).
func ResetChecks() { checks.Clear() }
