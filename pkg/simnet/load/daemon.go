package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is one takedownd the tool talks to: a process it started (and
// may kill and start again), or one it was pointed at.
type daemon struct {
	name    string
	bin     string // empty: attached, not ours to start
	config  string
	dataDir string
	api     string // host:port
	env     []string
	args    []string // more flags after -config
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	pid    int
	exited chan struct{}
	starts int
	// maxRSS and lastRSS are in bytes, sampled from /proc.
	maxRSS, lastRSS int64
	// The CPU time the process used, in seconds, sampled from /proc:
	// cpuDone of the processes before this one (restarts), cpuLast of
	// the one with pid cpuPID at its last sample.
	cpuDone, cpuLast float64
	cpuPID           int
}

// start runs the binary with its config, its output appended to logPath.
func (d *daemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bin == "" {
		return errors.New("start daemon: attached, not started by this tool")
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	cmd := exec.Command(d.bin, append([]string{"-config", d.config}, d.args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), d.env...)
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", d.bin, err)
	}
	d.cmd, d.pid, d.exited = cmd, cmd.Process.Pid, make(chan struct{})
	d.starts++
	exited := d.exited
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	return nil
}

// signal sends sig and waits (up to wait) for the process to exit.
func (d *daemon) signal(sig syscall.Signal, wait time.Duration) error {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return errors.New("signal daemon: not running")
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", d.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("%s did not exit within %s of %s", d.name, wait, sig)
	}
}

// kill is SIGKILL, as when the machine loses power under the daemon.
func (d *daemon) kill() error { return d.signal(syscall.SIGKILL, time.Minute) }

// stop is SIGTERM, then SIGKILL if it does not stop in time.
func (d *daemon) stop() error {
	if d.bin == "" || d.cmd == nil {
		return nil
	}
	select {
	case <-d.exited:
		return nil
	default:
	}
	if err := d.signal(syscall.SIGTERM, time.Minute); err != nil {
		_ = d.kill()
		return err
	}
	return nil
}

// running says whether the process is alive.
func (d *daemon) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exited == nil {
		return d.bin == "" && d.pid != 0
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// waitReady polls /readyz until it answers 200.
func (d *daemon) waitReady(ctx context.Context, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.api+"/readyz", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if d.bin != "" && !d.running() {
			return fmt.Errorf("%s exited before it was ready (see %s)", d.name, d.logPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (see %s)", d.name, bound, d.logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sampleRSS reads VmRSS of the process from /proc and keeps the maximum.
func (d *daemon) sampleRSS() {
	d.mu.Lock()
	pid := d.pid
	d.mu.Unlock()
	if pid == 0 {
		return
	}
	rss, err := readRSS(pid)
	if err != nil {
		return
	}
	cpu, cpuErr := readCPU(pid)
	d.mu.Lock()
	d.lastRSS, d.maxRSS = rss, max(d.maxRSS, rss)
	if cpuErr == nil {
		if pid != d.cpuPID {
			d.cpuDone, d.cpuPID = d.cpuDone+d.cpuLast, pid
		}
		d.cpuLast = cpu
	}
	d.mu.Unlock()
}

// cpuSeconds is the CPU time every process of this daemon used so far.
func (d *daemon) cpuSeconds() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cpuDone + d.cpuLast
}

// readCPU is the user and system CPU time of pid in seconds, from
// /proc/<pid>/stat (in clock ticks, which Linux reports at 100 a second
// to user space whatever the kernel's own tick).
func readCPU(pid int) (float64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its end.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unreadable cpu times in /proc stat")
	}
	return (utime + stime) / 100, nil
}

// readLoad is the machine's one-minute load average.
func readLoad() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}

// readRSS is VmRSS of pid in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// freePort returns a loopback address whose port was free a moment ago,
// so a daemon that is restarted keeps its address.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
