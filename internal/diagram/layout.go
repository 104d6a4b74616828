package diagram

import (
	"math"
	"slices"
	"unicode/utf8"

	"github.com/dgehq/dge/config"
)

// Layout is a graph placed on a plane for drawing (the console draws it as
// SVG): boxes for nodes, polylines for edges. Positions are in pixels, the
// origin at the top left, x growing to the right and y downwards; the
// messages flow from left to right.
type Layout struct {
	Width   int          `json:"width"`
	Height  int          `json:"height"`
	Nodes   []LayoutNode `json:"nodes"`
	Edges   []LayoutEdge `json:"edges"`
	Gathers []LayoutLine `json:"gathers"`
}

// LayoutNode is a node's box: its top-left corner (X, Y) and size.
type LayoutNode struct {
	Addr string `json:"addr"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
	W    int    `json:"w"`
	H    int    `json:"h"`
}

// LayoutEdge is one arrow: messages from From into To's queue. Points runs
// from the middle of From's right side to the middle of To's left side,
// through the gaps between the layers it crosses, never through a box.
type LayoutEdge struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Queue   string `json:"queue"`
	Message string `json:"message"`
	// When is, for an arrow from a route, the label of the path it takes
	// ("*" for the route's default path, config.WhenDefault); "" for the
	// others.
	When string `json:"when"`
	// Items reports an arrow that leaves a split: one message per item.
	Items  bool     `json:"items"`
	Points [][2]int `json:"points"`
}

// LayoutLine is the dashed line from a split to the gather that closes it:
// it carries no messages. Points are laid out as an edge's.
type LayoutLine struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Points [][2]int `json:"points"`
}

// Sizes of the layout, in pixels. A box fits its label ("kind" over
// "name") at about 8 px a character; the gap between two layers leaves
// room for an edge's labels (queue name and counts).
const (
	layoutMargin   = 24
	layoutLayerGap = 170
	layoutNodeH    = 44
	layoutMinW     = 96
	layoutPadW     = 24
	layoutCharW    = 8
	layoutNodeSep  = 28 // vertical space between two boxes of a layer
	layoutLineSep  = 14 // vertical space next to a line passing a layer
	layoutSweeps   = 4  // barycenter sweeps (down and up) to order the layers
	layoutStraight = 4  // passes that pull boxes level with their neighbours
)

// vnode is a box of the layout or a point where a line crosses a layer
// (a dummy: no box, height 0).
type vnode struct {
	layer     int
	h         float64
	in, out   []int // neighbours in the layer before and after
	pos       int   // index in its layer
	center    float64
	realIndex int // index in g.Nodes, or -1 for a dummy
}

// chain is a line through the layers: its vnodes from source to target.
type chain []int

// Layout places g for drawing: each node in the layer of its longest path
// from a start (so every edge goes to the right), the nodes of each layer
// ordered by a few barycenter sweeps to reduce crossings, then moved
// vertically towards their neighbours. A line that spans several layers
// passes each in a slot of its own. Nodes appear in g.Nodes order, edges
// in the order Dot lists them (by destination, then its from), gathers in
// graph order. The result depends only on g.
func NewLayout(g *config.Graph) Layout {
	l := newLayouter(g)
	l.order()
	l.placeY()
	return l.result()
}

// layouter holds the work of one NewLayout call.
type layouter struct {
	g      *config.Graph
	vs     []vnode
	layers [][]int // vnode indices of each layer, in order
	arrows []edge
	edges  []chain // one per arrow, as arrows
	gather []*config.Node
	lines  []chain // one per gather
	w      []int   // box width of each node of g
}

// newLayouter assigns the layers and builds the chains of vnodes.
func newLayouter(g *config.Graph) *layouter {
	l := &layouter{g: g, arrows: edges(g), gather: gathers(g)}
	index := make(map[*config.Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		index[n] = i
		layer := 0
		for _, f := range n.From {
			layer = max(layer, l.vs[index[f]].layer+1)
		}
		l.vs = append(l.vs, vnode{layer: layer, h: layoutNodeH, realIndex: i})
		l.w = append(l.w, boxWidth(n))
	}
	for _, e := range l.arrows {
		l.edges = append(l.edges, l.chain(index[e.From], index[e.To]))
	}
	for _, n := range l.gather {
		l.lines = append(l.lines, l.chain(index[n.Over], index[n]))
	}
	nl := 0
	for _, v := range l.vs {
		nl = max(nl, v.layer+1)
	}
	l.layers = make([][]int, nl)
	for i := range l.vs {
		v := &l.vs[i]
		v.pos = len(l.layers[v.layer])
		l.layers[v.layer] = append(l.layers[v.layer], i)
	}
	return l
}

// chain links vnode from to vnode to through a dummy in each layer
// between them and returns the vnodes of the line.
func (l *layouter) chain(from, to int) chain {
	c := chain{from}
	prev := from
	for layer := l.vs[from].layer + 1; layer < l.vs[to].layer; layer++ {
		l.vs = append(l.vs, vnode{layer: layer, realIndex: -1})
		d := len(l.vs) - 1
		l.link(prev, d)
		c = append(c, d)
		prev = d
	}
	l.link(prev, to)
	return append(c, to)
}

func (l *layouter) link(a, b int) {
	l.vs[a].out = append(l.vs[a].out, b)
	l.vs[b].in = append(l.vs[b].in, a)
}

// boxWidth is the width of n's box: room for the longer of its two lines.
func boxWidth(n *config.Node) int {
	chars := max(utf8.RuneCountInString(n.Name), utf8.RuneCountInString(string(n.Kind)))
	return max(layoutMinW, chars*layoutCharW+layoutPadW)
}

// order sorts each layer by the barycenter of its neighbours' positions,
// sweeping down the layers (by predecessors) then up (by successors). A
// vnode without neighbours on that side keeps its position; ties keep the
// previous order, so the result is deterministic.
func (l *layouter) order() {
	for range layoutSweeps {
		for i := 1; i < len(l.layers); i++ {
			l.sortLayer(i, func(v *vnode) []int { return v.in })
		}
		for i := len(l.layers) - 2; i >= 0; i-- {
			l.sortLayer(i, func(v *vnode) []int { return v.out })
		}
	}
}

func (l *layouter) sortLayer(i int, nbrs func(*vnode) []int) {
	layer := l.layers[i]
	key := make(map[int]float64, len(layer))
	for _, id := range layer {
		v := &l.vs[id]
		ns := nbrs(v)
		if len(ns) == 0 {
			key[id] = float64(v.pos)
			continue
		}
		sum := 0.0
		for _, n := range ns {
			sum += float64(l.vs[n].pos)
		}
		key[id] = sum / float64(len(ns))
	}
	slices.SortStableFunc(layer, func(a, b int) int {
		switch ka, kb := key[a], key[b]; {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	for p, id := range layer {
		l.vs[id].pos = p
	}
}

// placeY stacks each layer, then moves its vnodes towards the mean centre
// of their neighbours, as close as the order and the spacing allow (an
// isotonic regression, which keeps boxes apart), sweeping down and up.
func (l *layouter) placeY() {
	for _, layer := range l.layers {
		y := 0.0
		for k, id := range layer {
			if k > 0 {
				y += l.sep(layer[k-1], id)
			}
			l.vs[id].center = y
		}
	}
	for range layoutStraight {
		for i := 1; i < len(l.layers); i++ {
			l.straighten(i, func(v *vnode) []int { return v.in })
		}
		for i := len(l.layers) - 2; i >= 0; i-- {
			l.straighten(i, func(v *vnode) []int { return v.out })
		}
	}
}

// sep is the least distance between the centres of two vnodes next to
// each other in a layer.
func (l *layouter) sep(a, b int) float64 {
	va, vb := &l.vs[a], &l.vs[b]
	gap := float64(layoutNodeSep)
	if va.realIndex < 0 || vb.realIndex < 0 {
		gap = layoutLineSep
	}
	return va.h/2 + gap + vb.h/2
}

func (l *layouter) straighten(i int, nbrs func(*vnode) []int) {
	layer := l.layers[i]
	want := make([]float64, len(layer))
	offset := make([]float64, len(layer))
	for k, id := range layer {
		v := &l.vs[id]
		if k > 0 {
			offset[k] = offset[k-1] + l.sep(layer[k-1], id)
		}
		want[k] = v.center
		if ns := nbrs(v); len(ns) > 0 {
			sum := 0.0
			for _, n := range ns {
				sum += l.vs[n].center
			}
			want[k] = sum / float64(len(ns))
		}
		want[k] -= offset[k]
	}
	for k, z := range isotonic(want) {
		l.vs[layer[k]].center = z + offset[k]
	}
}

// isotonic returns the non-decreasing sequence closest to xs in the least
// squares sense (pool adjacent violators).
func isotonic(xs []float64) []float64 {
	type block struct {
		sum float64
		n   int
	}
	var bs []block
	for _, x := range xs {
		bs = append(bs, block{x, 1})
		for len(bs) > 1 {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			if a.sum/float64(a.n) <= b.sum/float64(b.n) {
				break
			}
			bs = append(bs[:len(bs)-2], block{a.sum + b.sum, a.n + b.n})
		}
	}
	out := make([]float64, 0, len(xs))
	for _, b := range bs {
		for range b.n {
			out = append(out, b.sum/float64(b.n))
		}
	}
	return out
}

// result converts the placed vnodes into a Layout in pixels.
func (l *layouter) result() Layout {
	top := math.Inf(1)
	bottom := math.Inf(-1)
	for _, v := range l.vs {
		top = min(top, v.center-v.h/2)
		bottom = max(bottom, v.center+v.h/2)
	}
	if len(l.vs) == 0 {
		top, bottom = 0, 0
	}
	shift := layoutMargin - top
	colW := make([]int, len(l.layers))
	for i, v := range l.vs[:len(l.g.Nodes)] {
		colW[v.layer] = max(colW[v.layer], l.w[i])
	}
	colX := make([]int, len(l.layers))
	x := layoutMargin
	for i, w := range colW {
		colX[i] = x
		x += w + layoutLayerGap
	}
	out := Layout{
		Width:   max(x-layoutLayerGap+layoutMargin, 2*layoutMargin),
		Height:  int(math.Round(bottom-top)) + 2*layoutMargin,
		Nodes:   make([]LayoutNode, len(l.g.Nodes)),
		Edges:   make([]LayoutEdge, len(l.arrows)),
		Gathers: make([]LayoutLine, len(l.gather)),
	}
	cy := func(id int) int { return int(math.Round(l.vs[id].center + shift)) }
	for i, n := range l.g.Nodes {
		v := l.vs[i]
		out.Nodes[i] = LayoutNode{
			Addr: n.Addr(), Kind: string(n.Kind), Name: n.Name,
			X: colX[v.layer] + (colW[v.layer]-l.w[i])/2, Y: cy(i) - layoutNodeH/2,
			W: l.w[i], H: layoutNodeH,
		}
	}
	points := func(c chain) [][2]int {
		src, dst := out.Nodes[c[0]], out.Nodes[c[len(c)-1]]
		ps := [][2]int{{src.X + src.W, src.Y + src.H/2}}
		for _, d := range c[1 : len(c)-1] {
			layer := l.vs[d].layer
			ps = append(ps, [2]int{colX[layer], cy(d)}, [2]int{colX[layer] + colW[layer], cy(d)})
		}
		return append(ps, [2]int{dst.X, dst.Y + dst.H/2})
	}
	for i, e := range l.arrows {
		out.Edges[i] = LayoutEdge{
			From: e.From.Addr(), To: e.To.Addr(), Queue: e.To.Edge.Queue,
			Message: e.To.InputFrom(e.From),
			Items:   e.From.Kind == config.KindSplit,
			Points:  points(l.edges[i]),
		}
		if e.From.Kind == config.KindRoute {
			out.Edges[i].When = e.To.When
		}
	}
	for i, n := range l.gather {
		out.Gathers[i] = LayoutLine{From: n.Over.Addr(), To: n.Addr(), Points: points(l.lines[i])}
	}
	return out
}
