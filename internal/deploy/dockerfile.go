package deploy

import (
	"fmt"
	"path"
	"strings"

	"github.com/dgehq/dge/config"
)

// The images the Dockerfile builds from: Go's for the build, alpine for
// the program, because the Compose healthcheck needs a wget (busybox's)
// and alpine stays small (about 8 MB under the program).
const (
	BuildImage   = "golang:1.26"
	RuntimeImage = "alpine:3.22"
)

// dockerfile builds the generated program, statically linked, into an
// alpine image where it runs as UID, not root.
func dockerfile(g *config.Graph, o Options) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	build := "./" + path.Clean(o.BuildDir)
	p("%s", Header)
	p("# The program of graph %q: build it from the root of its Go module (the folder", g.Name)
	p("# with go.mod), where %s is the program dge generate wrote:", build)
	p("#   docker build -f PATH/TO/THIS/Dockerfile -t %s .", o.Image)
	p("FROM %s AS build", BuildImage)
	p("WORKDIR /src")
	p("COPY go.mod go.sum ./")
	p("RUN go mod download")
	p("COPY . .")
	// -s -w leaves out the symbol table and the DWARF debugging information
	// (a third of the file): panics and profiles still name every function
	// and line, from the tables the runtime keeps; only a debugger attached
	// in the container would miss them.
	p("# -s -w: no symbol table, no DWARF (a third of the file); stack traces keep their names and lines")
	p("RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=\"-s -w\" -o /out/%s %s", g.Name, build)
	p("")
	p("FROM %s", RuntimeImage)
	p("RUN addgroup -S -g %d dge && adduser -S -D -H -u %d -G dge dge", UID, UID)
	p("COPY --from=build /out/%s %s", g.Name, programPath(g))
	p("USER %d:%d", UID, UID)
	p("EXPOSE %d", MetricsPort)
	p("ENTRYPOINT [%q]", programPath(g))
	return []byte(b.String())
}
