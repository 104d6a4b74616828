package gen

import (
	"fmt"
	"go/types"
	"strings"

	"github.com/dgehq/dge/config"
)

// The gather's two forms, told apart by the handler's signature.

// gather checks a gather's handler, which may take the list form or the
// fold form (GatherSignatures), records which one it takes in c.folds, and
// checks its zero function, if any, which needs the fold form.
func (c *checker) gather(n *config.Node) {
	list, fold, ok := GatherSignatures(n)
	if !ok {
		return
	}
	lp, ok1 := c.parts(list.Params)
	lr, ok2 := c.parts(list.Results)
	fp, ok3 := c.parts(fold.Params)
	fr, ok4 := c.parts(fold.Results)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return // a missing type is already reported
	}
	what := n.Addr() + " handler"
	listSig, foldSig := c.sigString(lp, lr), c.sigString(fp, fr)
	both := fmt.Sprintf("The %s must be either the list form\n  %s\n(called once per split with every item, in index order) or the fold form\n  %s\n(called once per item with the accumulator, which it returns)", what, listSig, foldSig)
	obj, sig := c.lookupFunc(n.Handler, n.HandlerRange, "Handler", what, both)
	isFold := false
	if sig != nil {
		listReason, foldReason := c.mismatch(sig, lp, lr), c.mismatch(sig, fp, fr)
		switch {
		case listReason == "":
		case foldReason == "":
			isFold = true
		default:
			// Explain the difference from the form its parameter count
			// is closer to.
			form, reason := "list", listReason
			if sig.Params().Len() >= 3 {
				form, reason = "fold", foldReason
			}
			c.errorf(n.HandlerRange, "Wrong handler signature",
				"%s, but %s.%s (%s) is\n  %s\nAs the %s form, %s.", both, c.pkg.Name(), n.Handler, c.where(obj), types.TypeString(sig, c.qualify), form, strings.ToLower(reason[:1])+reason[1:])
			sig = nil
		}
	}
	if sig != nil {
		c.folds[n] = isFold
	}
	if n.Zero == "" {
		return
	}
	if sig != nil && !isFold {
		c.errorf(n.ZeroRange, "Zero needs the fold form",
			"zero = %q gives the fold form's accumulator its starting value, so the %s must take the fold form\n  %s\nbut %s.%s takes the list form\n  %s\nwhich gets every item at once and has no accumulator. Remove zero, or write %s in the fold form.",
			n.Zero, what, foldSig, c.pkg.Name(), n.Handler, listSig, n.Handler)
	}
	acc := fr[0].t
	want := fmt.Sprintf("The zero function of %s must be func() %s, returning the accumulator's starting value", n.Addr(), c.typ(acc))
	zobj, zsig := c.lookupFunc(n.Zero, n.ZeroRange, "Zero function", "zero function of "+n.Addr(), want)
	if zsig == nil {
		return
	}
	var reason string
	switch {
	case zsig.Params().Len() != 0:
		reason = fmt.Sprintf("It takes %s; it must take none", config.Plural(zsig.Params().Len(), "parameter"))
	case zsig.Results().Len() != 1:
		reason = fmt.Sprintf("It returns %s; it must return one, %s", config.Plural(zsig.Results().Len(), "value"), c.typ(acc))
	case !types.Identical(zsig.Results().At(0).Type(), acc):
		reason = fmt.Sprintf("It returns %s; it must return %s, %s", c.typ(zsig.Results().At(0).Type()), c.typ(acc), fr[0].note)
	}
	if reason != "" {
		c.errorf(n.ZeroRange, "Wrong zero signature",
			"%s, but %s.%s (%s) is\n  %s\n%s.", want, c.pkg.Name(), n.Zero, c.where(zobj), types.TypeString(zsig, c.qualify), reason)
	}
}
