package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process identifies one process by pid and by the time it started (in clock
// ticks since boot, /proc/PID/stat field 22), so that a recycled pid is never
// mistaken for a process this package started.
type Process struct {
	// PID is the process id.
	PID int `json:"pid"`
	// Start is the process start time in clock ticks since boot.
	Start uint64 `json:"start"`
	// Exe is the executable the process runs.
	Exe string `json:"exe"`
}

// procStat reads the parent pid and the start time of a process.
func procStat(pid int) (ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(fields))
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat ppid: %w", pid, err)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parsing /proc/%d/stat starttime: %w", pid, err)
	}
	return ppid, start, nil
}

// Alive reports whether the process still runs (a zombie counts as gone).
func (p Process) Alive() bool {
	_, start, err := procStat(p.PID)
	if err != nil || start != p.Start {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok {
			return !strings.HasPrefix(strings.TrimSpace(v), "Z")
		}
	}
	return true
}

// kill sends SIGKILL to the process if it is still the one recorded.
func (p Process) kill() error {
	if !p.Alive() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s (pid %d): %w", filepath.Base(p.Exe), p.PID, err)
	}
	return nil
}

// self describes the current process.
func self() (Process, error) {
	_, start, err := procStat(os.Getpid())
	if err != nil {
		return Process{}, err
	}
	exe, _ := os.Executable()
	return Process{PID: os.Getpid(), Start: start, Exe: exe}, nil
}

// childrenRunning lists the children of this process that run one of exes.
func childrenRunning(exes ...string) ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	me := os.Getpid()
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, start, err := procStat(pid)
		if err != nil || ppid != me {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue
		}
		for _, want := range exes {
			if exe == want {
				out = append(out, Process{PID: pid, Start: start, Exe: exe})
			}
		}
	}
	return out, nil
}

// record is what a running cluster leaves on disk so that a later Start can
// clean up after an owner that died without stopping it (SIGKILL, a test
// binary killed at its timeout).
type record struct {
	Owner Process   `json:"owner"`
	Procs []Process `json:"procs"`
	Dirs  []string  `json:"dirs"`
}

// stateDir holds one record per running cluster.
func stateDir() string { return filepath.Join(os.TempDir(), "mlscale-localcluster") }

func writeRecord(path string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

// ReapStale stops the processes and removes the directories of clusters
// whose owning process is gone, as recorded by earlier runs, and returns the
// processes it stopped. It only touches processes whose pid, start time and
// executable all match the record.
func ReapStale() ([]Process, error) {
	dir := stateDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var reaped []Process
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue // removed by its owner meanwhile
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			_ = os.Remove(path)
			continue
		}
		if r.Owner.Alive() {
			continue
		}
		for _, p := range r.Procs {
			if !p.Alive() {
				continue
			}
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID)); err != nil || exe != p.Exe {
				continue
			}
			if err := p.kill(); err != nil {
				errs = append(errs, err)
				continue
			}
			reaped = append(reaped, p)
		}
		waitGone(reaped, 10*time.Second)
		for _, d := range r.Dirs {
			_ = os.RemoveAll(d)
		}
		_ = os.Remove(path)
	}
	return reaped, errors.Join(errs...)
}

// waitGone polls until none of procs is alive, or the timeout passes.
func waitGone(procs []Process, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		alive := false
		for _, p := range procs {
			alive = alive || p.Alive()
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
