package app

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set. careslot's
// heap is small (tens of MB) but every request allocates heavily (R4 validation builds
// protos), so the default of 100 collects very often; 400 trades a few more MB of heap
// for less collector CPU. GOGC in the environment overrides it.
const defaultGCPercent = 400

// TuneRuntime applies careslot's runtime settings to this process; serve and the
// benchmarks call it so that they measure what production runs.
func TuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
