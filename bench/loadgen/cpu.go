package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// CPUSample is the CPU time used so far by this process and by each of some other
// processes (a database's backends), for the CPU an operation costs: unlike throughput
// and latency, it hardly moves when other programs share the machine.
type CPUSample struct {
	Self   time.Duration
	Others map[int]time.Duration // by pid
}

// SampleCPU reads the CPU time of this process and of pids (Linux /proc; a process that
// cannot be read counts nothing).
func SampleCPU(pids []int) CPUSample {
	s := CPUSample{Others: map[int]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, pid := range pids {
		if d, ok := processCPU(pid); ok {
			s.Others[pid] = d
		}
	}
	return s
}

// CPUUsed is what was used between two samples: by this process, and by the other
// processes of either sample (one that started in between counts from zero; one that
// ended in between is lost).
func CPUUsed(before, after CPUSample) (self, others time.Duration) {
	for pid, d := range after.Others {
		others += d - before.Others[pid]
	}
	return after.Self - before.Self, others
}

// CPUPerOp formats the CPU of a run per successful operation.
func CPUPerOp(r Result, self, others time.Duration) string {
	if r.Ops == 0 {
		return "cpu/op: -"
	}
	n := time.Duration(r.Ops)
	return fmt.Sprintf("cpu/op: go %s + postgres %s = %s", roundMicro(self/n), roundMicro(others/n), roundMicro((self+others)/n))
}

func roundMicro(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// clockTicks is USER_HZ, the unit of /proc/[pid]/stat's times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// processCPU is the user and system time of pid, from /proc/[pid]/stat.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces and parentheses: fields are counted after its last ')'.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 || end+2 > len(b) {
		return 0, false
	}
	f := bytes.Fields(b[end+2:])
	if len(f) < 13 {
		return 0, false
	}
	// Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}
