// Package config loads dge graphs from *.dge.hcl files into a validated
// model, Graph, reporting every problem as an hcl.Diagnostic with a source
// range. It does no network I/O.
package config
