// Package console is the web server of dge console: pages that show a
// running graph live (its layout with the counts dge status reads), its
// parked messages with redrive and purge, and run lookup, over a JSON API
// under /api/.
//
// The server reads through the packages the CLI reads through: status
// (status.Read, what dge status -json prints), parked (Session.List, Find,
// Count, Followers, Redrive, Purge, Run, what dge parked does) and
// diagram.NewLayout; it holds no second implementation of either. It
// never prints: errors go to the browser as {"error": text} with every
// secret the Config's Scrub knows removed, and to the Config's Logger.
//
// Security: the server is read-only unless Config.AllowActions; then every
// POST needs the token New draws (sent as the HttpOnly, SameSite=Strict
// cookie dge_console_token that GET /?token=T sets, or as Authorization:
// Bearer T), Content-Type application/json, and, when the browser sends
// them, an Origin equal to the console's own and Sec-Fetch-Site
// same-origin or none. Every request must name the console's own address
// in its Host header (against DNS rebinding). No CORS header is ever sent,
// and every response forbids caching, framing and sniffing, with a
// Content-Security-Policy that allows only the console's own files.
//
// History: a goroutine started by New reads the status every
// Config.SampleEvery (5 s) and keeps, for each edge queue, a ring of the
// samples of the last Config.HistorySpan (10 minutes); GET
// /api/history?queue=Q returns them. Close stops it.
package console
