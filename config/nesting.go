package config

import (
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxNesting is the deepest an expression may nest, in the levels
// nestingDiag counts. hcl parses and evaluates an expression by recursion,
// a level at a time, so that 100,000 nested brackets (200 KB of source)
// took a gigabyte of stack and crashed dge; a graph's expressions nest a
// few levels.
const maxNesting = 100

// nesting follows the levels of the expression being read, token by token:
// a frame for each bracket, brace, parenthesis, string, heredoc, template
// sequence ("${", "%{") and template directive (%{if}, %{for}) still open,
// and within each frame a level for each operator and index of the
// expression under way (hcl nests them too: 1+1+1 is (1+1)+1).
type nesting struct {
	frames []frame
	depth  int // the levels of all frames together
}

// frame is one open bracket (or string, or template sequence or
// directive).
type frame struct {
	open   hclsyntax.TokenType
	at     int // the index of the opening token
	levels int // 1 for the frame, plus the operators and indexes in it
	// directive is set for an %{if} or %{for}, which ends at its %{end...}
	// rather than at a closing token.
	directive bool
}

// nestingDiag lexes a native-syntax source (as hclsyntax.LexConfig, or
// LexExpression when expr is set, does, without recursion) and returns an
// error for the first expression that nests deeper than maxNesting, with
// the depth it reaches, or nil. It must run before the source is parsed.
func nestingDiag(src []byte, filename string, expr bool) *hcl.Diagnostic {
	lex := hclsyntax.LexConfig
	if expr {
		lex = hclsyntax.LexExpression
	}
	tokens, _ := lex(src, filename, hcl.InitialPos) // the parser reports lexing errors
	var n nesting
	var subject *hcl.Range
	peak := 0
	for i, tok := range tokens {
		n.read(tokens, i)
		switch {
		case n.depth > maxNesting && subject == nil:
			subject = tok.Range.Ptr()
			peak = n.depth
		case n.depth > peak:
			peak = n.depth
		case n.depth <= maxNesting/2 && subject != nil:
			// Well out of the deep expression (an index or operator level
			// ends with the expression, not at a closing bracket).
			return tooDeep(subject, peak)
		}
	}
	if subject != nil {
		return tooDeep(subject, peak)
	}
	return nil
}

// CheckNesting returns an error diagnostic when a native-syntax file nests
// an expression deeper than dge (and hcl's recursive parser) can take, or
// nil. Call it before anything parses src: dge fmt does, as the loader does.
func CheckNesting(src []byte, filename string) hcl.Diagnostics {
	if d := nestingDiag(src, filename, false); d != nil {
		return hcl.Diagnostics{d}
	}
	return nil
}

func tooDeep(subject *hcl.Range, depth int) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("The expression here nests %d levels deep, counting a level for each bracket, brace, parenthesis, string template and operator; dge allows at most %d, as reading each level takes memory. Split the expression into locals.",
			depth, maxNesting),
		Subject: subject,
	}
}

// read updates n for tokens[i].
func (n *nesting) read(tokens hclsyntax.Tokens, i int) {
	tok := tokens[i]
	switch tok.Type {
	case hclsyntax.TokenOBrack:
		if i > 0 && endsOperand(tokens[i-1].Type) {
			n.level() // an index: the indexed value nests in it
		}
		n.push(frame{open: tok.Type, at: i})
	case hclsyntax.TokenOBrace, hclsyntax.TokenOParen, hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
		hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
		n.push(frame{open: tok.Type, at: i})
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc,
		hclsyntax.TokenTemplateSeqEnd:
		if f, ok := n.pop(false); ok && f.open == hclsyntax.TokenTemplateControl && f.at+1 < i {
			n.directive(string(tokens[f.at+1].Bytes))
		}
	case hclsyntax.TokenComma:
		n.separate()
	case hclsyntax.TokenNewline:
		// Newlines separate the attributes of a body and the items of an
		// object; inside other brackets an expression goes on.
		if top := n.top(); top == nil || top.open == hclsyntax.TokenOBrace {
			n.separate()
		}
	case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
		hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
		hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
		hclsyntax.TokenBang, hclsyntax.TokenQuestion:
		n.level()
	}
}

// directive opens or closes a template directive, given the keyword of the
// %{...} sequence just closed: %{if} and %{for} open one, closed by
// %{endif} and %{endfor}.
func (n *nesting) directive(keyword string) {
	switch keyword {
	case "if", "for":
		n.push(frame{directive: true})
	case "endif", "endfor":
		n.pop(true)
	}
}

// endsOperand tells whether a token of type t can end an operand, so that a
// "[" after it indexes the operand rather than opening a tuple.
func endsOperand(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

func (n *nesting) top() *frame {
	if len(n.frames) == 0 {
		return nil
	}
	return &n.frames[len(n.frames)-1]
}

func (n *nesting) push(f frame) {
	f.levels = 1
	n.frames = append(n.frames, f)
	n.depth++
}

// pop closes the innermost frame and returns it: a directive only when
// directive is set, since the closing tokens inside a directive belong to
// its own frames. Unbalanced closing tokens (a syntax error the parser
// reports) are ignored.
func (n *nesting) pop(directive bool) (frame, bool) {
	top := n.top()
	if top == nil || top.directive != directive {
		return frame{}, false
	}
	f := *top
	n.depth -= f.levels
	n.frames = n.frames[:len(n.frames)-1]
	return f, true
}

// level adds an operator or index level to the innermost frame (or to the
// top level of the file).
func (n *nesting) level() {
	if top := n.top(); top != nil {
		top.levels++
	}
	n.depth++
}

// separate ends the expression under way in the innermost frame: the next
// one starts with no operator levels.
func (n *nesting) separate() {
	top := n.top()
	if top == nil {
		n.depth = 0
		return
	}
	n.depth -= top.levels - 1
	top.levels = 1
}

// jsonNestingDiag is nestingDiag for a JSON source: hcl's JSON parser
// recurses for each array and object.
func jsonNestingDiag(src []byte, filename string) *hcl.Diagnostic {
	depth, peak, at := 0, 0, -1
	inString, escaped := false, false
	for i, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case (c == ']' || c == '}') && depth > 0:
			depth--
		}
		switch {
		case depth > maxNesting && at < 0:
			at, peak = i, depth
		case depth > peak:
			peak = depth
		case depth <= maxNesting/2 && at >= 0:
			return tooDeep(byteRange(src, filename, at), peak)
		}
	}
	if at >= 0 {
		return tooDeep(byteRange(src, filename, at), peak)
	}
	return nil
}

// byteRange returns the range of the byte at offset in src.
func byteRange(src []byte, filename string, offset int) *hcl.Range {
	line, lineStart := 1, 0
	for i, c := range src[:offset] {
		if c == '\n' {
			line, lineStart = line+1, i+1
		}
	}
	col := utf8.RuneCount(src[lineStart:offset]) + 1
	return &hcl.Range{
		Filename: filename,
		Start:    hcl.Pos{Line: line, Column: col, Byte: offset},
		End:      hcl.Pos{Line: line, Column: col + 1, Byte: offset + 1},
	}
}
