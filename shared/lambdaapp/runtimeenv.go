package lambdaapp

// RuntimeEnv is the Go runtime's environment for a function of memoryMB,
// as the deployment sets it: GOMAXPROCS 1 below a whole vCPU, what
// TuneRuntime would set. Given in the environment, the runtime starts with
// one P; set by TuneRuntime, it starts with one per visible CPU and drops
// the others during init, flushing their caches at every cold start (about
// a tenth of a function's init CPU time). TuneRuntime still sets it where
// the environment does not (GOGC and the memory limit stay TuneRuntime's).
func RuntimeEnv(memoryMB int) map[string]string {
	if memoryMB > 0 && memoryMB < fullVCPUMB {
		return map[string]string{"GOMAXPROCS": "1"}
	}
	return nil
}
