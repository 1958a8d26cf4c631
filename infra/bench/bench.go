package bench

import (
	"context"
	"math/rand/v2"
	"time"
)

// Target is one bootstrap to time.
type Target struct {
	Name string // function name, also its AWS_LAMBDA_FUNCTION_NAME
	Path string // its bootstrap, built for the host
}

// Samples are the measured init times of one target.
type Samples struct {
	Name  string
	Times []time.Duration
	// Err is the target's failed init (an *InitError); a target that failed
	// is not run again.
	Err error
}

// Config says how many times Run measures.
type Config struct {
	Rounds  int           // measured rounds
	Warmup  int           // rounds run first and thrown away
	Timeout time.Duration // the functions' timeout, which bounds their init (whole seconds)
	// RIE is the aws-lambda-rie binary (rie.Binary) the bootstraps run under.
	RIE string
	// Progress, when set, is called after each round (warm-up rounds count).
	Progress func(round, total int)
}

// Run times the cold start of every target: cfg.Warmup rounds that are
// thrown away (they page the binaries in), then cfg.Rounds rounds. Each
// round runs every target once, in a fresh random order, so that drift in
// the machine's load hits all targets alike. The result has one Samples per
// target, in the order of targets. A target whose init fails keeps its
// error and is left out of later rounds; any other error ends the run.
func Run(ctx context.Context, targets []Target, cfg Config) ([]Samples, error) {
	out := make([]Samples, len(targets))
	for i, t := range targets {
		out[i].Name = t.Name
	}
	order := make([]int, len(targets))
	for i := range order {
		order[i] = i
	}
	total := cfg.Warmup + cfg.Rounds
	for round := range total {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			if out[i].Err != nil {
				continue
			}
			d, err := Measure(ctx, cfg.RIE, targets[i].Name, targets[i].Path, cfg.Timeout)
			switch {
			case errIsInit(err):
				out[i].Err = err
			case err != nil:
				return nil, err
			case round >= cfg.Warmup:
				out[i].Times = append(out[i].Times, d)
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(round+1, total)
		}
	}
	return out, nil
}
