package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/dgehq/dge/internal/deploy"
)

func runDeploy(_ context.Context, e *env, args []string) int {
	flags := e.newFlagSet("deploy", "dge deploy -target kubernetes|compose -o DIR [flags] [PATH]", `
Write what a cluster needs to run the graph in PATH (default the current
folder) into DIR: a Dockerfile that builds the generated program, a
README.md with the steps before (the image, the broker URL, dge apply), and

  -target kubernetes: per node that consumes a queue, node-NODE.yaml with
      its Deployment (probes on /readyz and /healthz, the node's resources,
      DGE_AMQP_URL from the Secret dge-GRAPH-broker, key amqp-url) and its
      KEDA ScaledObject (a rabbitmq trigger on the node's queue, the
      node's replicas, ready_per_replica and cooldown); keda-auth.yaml,
      the TriggerAuthentication KEDA reads the same Secret through;
  -target compose: compose.yaml, one service per node with its minimum
      replicas, DGE_AMQP_URL from the environment, a healthcheck on
      /readyz.

No file holds the broker's URL or password. Output is deterministic. Every
file starts with "`+deploy.Header+`"; dge deploy
overwrites only such files. Then, e.g.:

  kubectl create secret generic dge-GRAPH-broker --from-literal=amqp-url='amqp://USER:PASSWORD@HOST:5672'
  dge apply && kubectl apply -f DIR`)
	var vars varFlags
	vars.register(flags)
	target := flags.String("target", "", "what to write: kubernetes (Deployments and KEDA ScaledObjects) or compose")
	out := flags.String("o", "", "output `DIR` (required)")
	image := flags.String("image", "", "the program's image (default GRAPH:latest)")
	namespace := flags.String("namespace", "", "Kubernetes namespace written into every object (default none: kubectl's)")
	programDir := flags.String("program-dir", "", "the generated program's folder, which the Dockerfile builds (default <graph folder>/cmd/<graph name>, where dge generate writes it)")
	e.addNoColor(flags)
	pos, code, done := parseArgs(flags, args)
	if done {
		return code
	}
	t := deploy.Target(*target)
	if !slices.Contains(deploy.Targets, t) {
		if *target == "" {
			return e.failf("deploy", "-target is required: -target kubernetes or -target compose")
		}
		return e.failf("deploy", "unknown -target %q; use -target kubernetes or -target compose", *target)
	}
	if *out == "" {
		return e.failf("deploy", "-o DIR is required: the folder to write the files into")
	}
	path, ok := e.pathArg(flags, pos)
	if !ok {
		return exitError
	}
	g, ok := e.loadGraph(path, vars)
	if !ok {
		return exitError
	}
	graphDir, err := graphFolder(path)
	if err != nil {
		return e.fail("deploy", err)
	}
	prog := *programDir
	if prog == "" {
		if !safeFolderName(g.Name) {
			return e.failf("deploy", "the graph name %q cannot be a folder name; name the program's folder with -program-dir DIR", g.Name)
		}
		prog = filepath.Join(graphDir, "cmd", g.Name)
	}
	buildDir, err := moduleRelative(prog)
	if err != nil {
		return e.fail("deploy", err)
	}

	files, err := deploy.Render(g, deploy.Options{Target: t, Image: *image, Namespace: *namespace, BuildDir: buildDir})
	if err != nil {
		return e.fail("deploy", err)
	}
	return e.writeDeploy(*out, files)
}

// writeDeploy writes files into dir. It refuses, before writing anything,
// when a file it would replace does not start with deploy.Header, and
// notes files dge deploy wrote there before that the graph no longer has.
func (e *env) writeDeploy(dir string, files map[string][]byte) int {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	unchanged := map[string]bool{}
	for _, name := range names {
		target := filepath.Join(dir, name)
		old, err := os.ReadFile(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return e.fail("deploy", err)
		case !hasDeployHeader(old):
			return e.failf("deploy", "refusing to overwrite %s: it does not start with %q, so dge deploy did not write it. Move it away, or write elsewhere with -o DIR.", target, deploy.Header)
		case bytes.Equal(old, files[name]):
			unchanged[name] = true
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return e.failf("deploy", "create output folder: %v", err)
	}
	for _, name := range names {
		target := filepath.Join(dir, name)
		if unchanged[name] {
			fmt.Fprintf(e.stdout, "Unchanged %s\n", target)
			continue
		}
		if err := writeAtomic(target, files[name]); err != nil {
			return e.fail("deploy", err)
		}
		fmt.Fprintf(e.stdout, "Wrote %s\n", target)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return e.fail("deploy", err)
	}
	for _, en := range entries {
		if _, ok := files[en.Name()]; ok || en.IsDir() {
			continue
		}
		p := filepath.Join(dir, en.Name())
		if b, err := os.ReadFile(p); err == nil && hasDeployHeader(b) {
			e.note(fmt.Sprintf("%s was written by an earlier dge deploy and is not part of this output (a node removed, or another -target): delete it, or kubectl apply -f %s still applies it", p, dir))
		}
	}
	fmt.Fprintf(e.stdout, "\nNext: read %s (the image, the broker Secret, dge apply).\n", filepath.Join(dir, "README.md"))
	return exitOK
}

// hasDeployHeader reports whether b starts with dge deploy's header line.
func hasDeployHeader(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(bytes.TrimSuffix(line, []byte("\r"))) == deploy.Header
}

// moduleRelative returns dir relative to the root of the Go module that
// holds it (the nearest folder above with a go.mod), slash-separated: the
// Dockerfile builds from that root.
func moduleRelative(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for root := abs; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				return "", fmt.Errorf("the program's folder %s is its module's root; dge generate writes the program into a folder of its own (see -program-dir)", dir)
			}
			return filepath.ToSlash(rel), nil
		}
		up := filepath.Dir(root)
		if up == root {
			return "", fmt.Errorf("no go.mod in %s or above it: the Dockerfile builds the program from its Go module's root. Run dge init (or go mod init) in the graph's folder, or name the program's folder with -program-dir DIR", dir)
		}
		root = up
	}
}
