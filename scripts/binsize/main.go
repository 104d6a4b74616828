// Command binsize says what a Go program's size is made of: it builds the
// package given (default ./examples/arith/cmd/arith, a generated program),
// then sums the sizes of the symbols in its file's sections (code, read-only
// and initialised data; not the zeroed data, which takes no room) by the
// module that defines them (go version -m lists the modules linked in), the
// standard library as one line, and prints the rest of the file (the
// tables of function metadata, the symbol table and the DWARF debugging
// information) and the size of the same build with -ldflags='-s -w'. For
// example:
//
//	go run ./scripts/binsize
//	go run ./scripts/binsize ./cmd/dge
package main

import (
	"cmp"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

func main() {
	pkg := "./examples/arith/cmd/arith"
	if len(os.Args) > 1 {
		pkg = os.Args[1]
	}
	if err := run(pkg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "binsize:", err)
		os.Exit(1)
	}
}

func run(pkg string, w io.Writer) error {
	dir, err := os.MkdirTemp("", "binsize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, stripped := filepath.Join(dir, "full"), filepath.Join(dir, "stripped")
	if err := command("go", "build", "-o", bin, pkg); err != nil {
		return err
	}
	if err := command("go", "build", "-ldflags=-s -w", "-o", stripped, pkg); err != nil {
		return err
	}
	mods, err := output("go", "version", "-m", bin)
	if err != nil {
		return err
	}
	size, err := fileSize(bin)
	if err != nil {
		return err
	}
	small, err := fileSize(stripped)
	if err != nil {
		return err
	}
	sums, err := bySource(modules(mods), bin)
	if err != nil {
		return err
	}
	type row struct {
		name string
		n    int64
	}
	var rows []row
	var total int64
	for k, n := range sums {
		rows = append(rows, row{k, n})
		total += n
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	fmt.Fprintf(w, "%s: %s, %s built with -ldflags='-s -w' (no symbol table, no DWARF)\n\n", pkg, mb(size), mb(small))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "code and data by module\tMB\tshare\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f %%\t\n", r.name, float64(r.n)/1e6, 100*float64(r.n)/float64(size))
	}
	fmt.Fprintf(tw, "all code and data symbols\t%.2f\t%.1f %%\t\n", float64(total)/1e6, 100*float64(total)/float64(size))
	fmt.Fprintf(tw, "the rest: function tables, symbol table, DWARF\t%.2f\t%.1f %%\t\n", float64(size-total)/1e6, 100*float64(size-total)/float64(size))
	return tw.Flush()
}

// modules returns the module paths go version -m lists (mod and dep
// lines), longest first, so that the first prefix that matches a symbol is
// its module.
func modules(versionM []byte) []string {
	var mods []string
	for _, line := range strings.Split(string(versionM), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	slices.SortFunc(mods, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return mods
}

// bySource sums the sizes of the ELF file bin's symbols that take room in
// the file by the module that defines them; the standard library's go
// under "standard library and Go runtime", symbols of no package under
// "other (linker)".
func bySource(mods []string, bin string) (map[string]int64, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	sums := map[string]int64{}
	for _, s := range syms {
		i := int(s.Section)
		if s.Section == elf.SHN_UNDEF || i >= len(f.Sections) || f.Sections[i].Type == elf.SHT_NOBITS {
			continue // undefined (cgo) and zeroed data take no room in the file
		}
		sums[source(mods, s.Name)] += int64(s.Size)
	}
	return sums, nil
}

// source names the module that defines the symbol sym.
func source(mods []string, sym string) string {
	if strings.HasPrefix(sym, "go:") && !strings.HasPrefix(sym, "go:itab.") {
		return "other (linker)" // go:func.*, go:buildinfo, ...
	}
	for _, p := range []string{"type:", "go:itab.", "*"} {
		sym = strings.TrimPrefix(sym, p)
	}
	sym = strings.ReplaceAll(sym, "%2e", ".")
	for _, m := range mods {
		if strings.HasPrefix(sym, m) && len(sym) > len(m) && (sym[len(m)] == '.' || sym[len(m)] == '/') {
			return m
		}
	}
	elem, _, _ := strings.Cut(sym, "/")
	if strings.Contains(sym, "/") && strings.Contains(elem, ".") {
		return "other (linker)" // a module go version -m does not name
	}
	first, _, _ := strings.Cut(elem, ".")
	if first == "" || strings.ContainsAny(first, "(){}[]*,;: ") {
		return "other (linker)"
	}
	return "standard library and Go runtime"
}

func command(name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func output(name string, args ...string) ([]byte, error) {
	c := exec.Command(name, args...)
	c.Stderr = os.Stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
