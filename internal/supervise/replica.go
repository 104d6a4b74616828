package supervise

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// killMargin is how long past its grace a stopping replica may take to
// exit before it gets SIGKILL: the grace bounds the replica's work in
// flight, and closing its connection takes a moment more.
const killMargin = time.Second

// replica is one numbered replica of a node: a process, started again
// after each exit it was not asked for, until stop.
type replica struct {
	n    *node
	num  int
	done chan struct{} // closed when run returns

	stopOnce sync.Once
	stopCh   chan struct{} // closed by stop

	mu      sync.Mutex
	proc    *os.Process // the running process; nil between processes
	stopReq bool
	killed  bool
}

func (r *replica) prefix() string { return fmt.Sprintf("%s#%d", r.n.spec.Address, r.num) }

func (r *replica) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc != nil
}

func (r *replica) stopRequested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopReq
}

// run starts the replica's process and starts it again after every exit
// it was not asked for, with backoff, until stop.
func (r *replica) run() {
	defer close(r.done)
	o := &r.n.s.opts
	backoff, waited, restarts := o.MinBackoff, time.Duration(0), 0
	for {
		began := time.Now()
		ev, stopped := r.once(restarts, waited)
		if stopped {
			ev.Type = Stopped
			r.n.s.emit(ev)
			return
		}
		r.n.s.emit(ev)
		now := time.Now()
		if now.Sub(began) >= o.ResetAfter {
			backoff = o.MinBackoff
		}
		if begins, count := r.n.restarted(now); begins {
			r.n.s.emit(Event{Type: CrashLoop, Node: r.n.spec.Address, Restarts: count})
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-r.stopCh:
			t.Stop()
			return
		}
		restarts, waited = restarts+1, backoff
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

// once runs one process of the replica to its end and returns the event
// of its exit (Exited; the caller makes it Stopped when stopped is true).
// restarts and backoff describe the start, for its event.
func (r *replica) once(restarts int, backoff time.Duration) (ev Event, stopped bool) {
	o := &r.n.s.opts
	ev = Event{Type: Exited, Node: r.n.spec.Address, Replica: r.num}
	args := append([]string{r.n.spec.Command, "-shutdown-timeout", r.n.spec.Grace.String()}, o.Args...)
	cmd := exec.Command(o.Program, args...)
	cmd.Env = o.Env
	cmd.SysProcAttr = sysProcAttr()
	stdout, err1 := cmd.StdoutPipe()
	stderr, err2 := cmd.StderrPipe()
	if err := errors.Join(err1, err2); err != nil {
		ev.Error = fmt.Sprintf("start %s %s: %v", o.Program, r.n.spec.Command, err)
		return ev, r.stopRequested()
	}
	if err := cmd.Start(); err != nil {
		ev.Error = fmt.Sprintf("start %s %s: %v", o.Program, r.n.spec.Command, err)
		return ev, r.stopRequested()
	}
	r.mu.Lock()
	r.proc = cmd.Process
	stopNow := r.stopReq
	r.mu.Unlock()
	if stopNow {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	ev.PID = cmd.Process.Pid
	start := Event{Type: Started, Node: r.n.spec.Address, Replica: r.num, PID: cmd.Process.Pid}
	if restarts > 0 {
		start.Type, start.Restarts, start.BackoffMS = Restarted, restarts, backoff.Milliseconds()
	}
	r.n.s.emit(start)
	settle := time.AfterFunc(o.ResetAfter, func() { r.n.settled(time.Now()) })

	var wg sync.WaitGroup
	wg.Go(func() { o.Console.copyLines(r.prefix(), stdout) })
	wg.Go(func() { o.Console.copyLines(r.prefix(), stderr) })
	wg.Wait()
	err := cmd.Wait()
	settle.Stop()

	r.mu.Lock()
	r.proc = nil
	stopped, ev.Killed = r.stopReq, r.killed
	r.mu.Unlock()
	describeExit(&ev, cmd.ProcessState, err)
	return ev, stopped
}

// describeExit sets the event's exit code or signal from the process's
// state.
func describeExit(ev *Event, st *os.ProcessState, err error) {
	if st == nil {
		ev.Error = err.Error()
		return
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ev.Signal = signalName(ws.Signal())
		return
	}
	code := st.ExitCode()
	ev.Code = &code
}

// signalName names a signal as in its constant: SIGKILL, SIGTERM.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return s.String()
}

// stop asks the replica to end: no restart, SIGTERM to its process, and
// SIGKILL once its grace (plus killMargin) has passed. It returns when
// the replica's process has exited.
func (r *replica) stop() {
	r.mu.Lock()
	r.stopReq = true
	p := r.proc
	r.mu.Unlock()
	r.stopOnce.Do(func() { close(r.stopCh) })
	if p != nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	t := time.NewTimer(r.n.spec.Grace + killMargin)
	defer t.Stop()
	select {
	case <-r.done:
		return
	case <-t.C:
	}
	r.mu.Lock()
	p = r.proc
	r.killed = p != nil
	r.mu.Unlock()
	if p != nil {
		_ = p.Kill()
	}
	<-r.done
}
