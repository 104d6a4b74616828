package textdiff_test

import (
	"fmt"

	"github.com/dgehq/dge/internal/textdiff"
)

func ExampleUnified() {
	old := "start \"start\" {}\nterminate   \"result\" {}\n"
	formatted := "start \"start\" {}\nterminate \"result\" {}\n"
	fmt.Print(textdiff.Unified("old/g.dge.hcl", "new/g.dge.hcl", old, formatted))
	// Output:
	// --- old/g.dge.hcl
	// +++ new/g.dge.hcl
	// @@ -1,2 +1,2 @@
	//  start "start" {}
	// -terminate   "result" {}
	// +terminate "result" {}
}
