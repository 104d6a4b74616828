//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/dgehq/dge/internal/brokertest"
)

// openPTY returns the two ends of a new pseudo-terminal: the controlling
// side a test reads, and the terminal a command writes to.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	var n, unlock uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, control.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("TIOCGPTN: %v", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, control.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("TIOCSPTLCK: %v", e)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal: %v", err)
	}
	return control, term
}

// TestApplyProgressOnATerminal runs apply with stdout on a real
// pseudo-terminal and checks the status line: drawn, erased before each
// progress line, ending at 16 of 16 done; the golden tests, writing to a
// buffer, check it is absent from pipes.
func TestApplyProgressOnATerminal(t *testing.T) {
	vh := brokertest.NewVhost(t)
	dir := chainGraph(t, vh.Name, "5s")
	control, term := openPTY(t)
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&got, control) // until the terminal side closes (EIO)
		close(read)
	}()
	var errb strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: term, stderr: &errb, environ: append(brokerEnv(vh), "NO_COLOR=1")}
	code := e.dispatch(t.Context(), []string{"apply", "-auto-approve", dir})
	term.Close()
	<-read
	control.Close()
	out := got.String()
	if code != 0 {
		t.Fatalf("apply on a terminal: exit %d, stderr %q\n%q", code, errb.String(), out)
	}
	for _, want := range []string{"[0/16] 0s elapsed", "\r\x1b[K", "[16/16] ", "\x1b[Kqueue.a_in: Creation complete", "Apply complete! Resources: 16 added"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
}
