// Package english writes the small pieces of English that dge's messages
// share, so that every command phrases them alike.
package english
