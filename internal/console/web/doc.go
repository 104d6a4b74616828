// Package web holds the console's pages, style sheet and scripts, embedded
// in the dge binary so the console needs no build step and works offline.
//
// The pages are plain HTML with no inline script or style (the console's
// Content-Security-Policy is default-src 'self'); each loads one ES module
// from the same directory, which reads the console's JSON API:
//
//	/         index.html    the live graph (graph.js)
//	/parked   parked.html   parked messages, redrive and purge (parked.js)
//	/message  message.html  one parked message (message.js)
//	/runs     runs.html     run lookup (runs.js)
//
// Every other file (app.css and the modules) is served under /static/ by
// its name. The elements a browser test reads (svg#graph, g.edge,
// table#parked, dialog#confirm, ...) are listed in docs/console.md.
package web
