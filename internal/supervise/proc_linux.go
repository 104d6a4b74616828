package supervise

import "syscall"

// sysProcAttr puts a replica in a process group of its own, so a Ctrl-C
// on dge run's terminal reaches dge run alone (which stops the replicas
// in order), and has the kernel SIGKILL it should dge run die without
// stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
