package web

import "embed"

// Files holds the pages, app.css and the JS modules, by file name.
//
//go:embed *.html *.css *.js
var Files embed.FS

// Pages maps the path each page is served at to its file in Files.
var Pages = map[string]string{
	"/":        "index.html",
	"/parked":  "parked.html",
	"/message": "message.html",
	"/runs":    "runs.html",
}

// StaticPrefix is the path under which every file of Files that is no page
// is served, by its name: /static/app.css, /static/graph.js.
const StaticPrefix = "/static/"
