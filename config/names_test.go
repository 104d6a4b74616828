package config_test

import (
	"testing"

	"github.com/dgehq/dge/config"
)

func TestExportedName(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"double", "Double"},
		{"Double", "Double"},
		{"rest_call", "Rest_call"},
		{"émile", "Émile"},
		{"x", "X"},
		{"", ""},
		{"_x", "_x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := config.ExportedName(tt.name); got != tt.want {
				t.Errorf("ExportedName(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}
