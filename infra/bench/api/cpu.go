package api

import (
	"fmt"
	"io"
	"time"
)

// MaxCPUPerRequest is the CPU budget of one warm GET /v1/contact/{id} in
// the function that serves it (absolute: CPU time does not move with the
// machine's load the way latency does).
const MaxCPUPerRequest = 300 * time.Microsecond

// CPU is the CPU time one warm GET /v1/contact/{id} costs, from the
// processes' CPU times in /proc over many requests.
type CPU struct {
	// Number is the section's place in the report.
	Number   int `json:"number"`
	Requests int `json:"requests"`
	// FunctionMS is what runs in Lambda: the API function's handler
	// invoked directly, as lambda.Start invokes it (the event decoded from
	// JSON, the response encoded to JSON), with the SDK's calls to
	// DynamoDB; per request, in ms.
	FunctionMS float64 `json:"function_ms_per_request"`
	// GatewayMS is the same requests through the local gateway in the same
	// process (route match, authorizer cache, proxy event, response), minus
	// the HTTP server: what the local stand-in for API Gateway adds is
	// GatewayMS − FunctionMS.
	GatewayMS float64 `json:"gateway_ms_per_request"`
	// EmulatorMS is dynoxide's CPU per request during the function run (a
	// separate process, not counted above).
	EmulatorMS float64 `json:"emulator_ms_per_request"`
	// WrkMS is the whole process (HTTP server, gateway, function) per
	// request over the 32-connection wrk run, when wrk ran.
	WrkMS float64 `json:"wrk_process_ms_per_request,omitempty"`
	MaxMS float64 `json:"max_ms"`
	// Profile is the pprof CPU profile of the function run.
	Profile string   `json:"profile,omitempty"`
	Invalid string   `json:"invalid,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// PerRequestMS is cpu divided by n requests, in ms.
func PerRequestMS(cpu time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return MS(cpu) / float64(n)
}

// Pass reports whether the function's CPU per request is within MaxMS.
func (c CPU) Pass() bool {
	return c.Invalid == "" && c.Requests > 0 && c.FunctionMS <= c.MaxMS
}

func (c CPU) write(w io.Writer) {
	verdict := "PASS"
	if !c.Pass() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%d. CPU per GET /v1/contact/{id}, %d requests  [%s]\n", c.Number, c.Requests, verdict)
	fmt.Fprintf(w, "   function  %9.3f ms  what runs in Lambda (target ≤ %.3f ms)\n", c.FunctionMS, c.MaxMS)
	fmt.Fprintf(w, "   gateway   %9.3f ms  through the local gateway in-process (adds %.3f ms)\n", c.GatewayMS, c.GatewayMS-c.FunctionMS)
	if c.WrkMS > 0 {
		fmt.Fprintf(w, "   wrk       %9.3f ms  the whole process over the 32-connection wrk run\n", c.WrkMS)
	}
	fmt.Fprintf(w, "   dynoxide  %9.3f ms  the emulator, during the function run\n", c.EmulatorMS)
	if c.Invalid != "" {
		fmt.Fprintf(w, "   INVALID   %s\n", c.Invalid)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "   - %s\n", n)
	}
}
