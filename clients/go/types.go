// types.go — the documents that cross the bus: the execution request, the
// log stream request and the result (docs/schema.md in the repository).
package dms

import "encoding/json"

// ExecutionRequest is the DMS execution request. Start and Run marshal it
// to JSON; fields left at their zero value are left out, so the executor's
// defaults apply.
type ExecutionRequest struct {
	JobID       string     `json:"job_id,omitempty"`
	ExecutionID string     `json:"execution_id,omitempty"`
	EngineSpec  EngineSpec `json:"engine_spec"`
	Resources   *Resources `json:"resources,omitempty"`
	Inputs      []Input    `json:"inputs,omitempty"`
	Outputs     []Output   `json:"outputs,omitempty"`
	ResultsDir  string     `json:"results_dir,omitempty"`
	// Timeout is a duration the executor reads ("30s", "1h", or seconds).
	Timeout string `json:"timeout,omitempty"`
}

// EngineSpec names the engine and carries its parameters: image,
// entrypoint, cmd, environment, working_directory, user, labels,
// network_mode, ports, ... as docs/schema.md lists them. Params is a map,
// as in the DMS, so every field the executor accepts can be passed.
type EngineSpec struct {
	Type   string                 `json:"type"`
	Params map[string]interface{} `json:"params"`
}

// Resources are the job's limits.
type Resources struct {
	CPU    *CPU  `json:"cpu,omitempty"`
	Memory *Size `json:"memory,omitempty"`
	Pids   *Pids `json:"pids,omitempty"`
	GPUs   []GPU `json:"gpus,omitempty"`
}

// CPU limits: Cores may be fractional; Cpuset pins ("0-1,3").
type CPU struct {
	Cores  float64 `json:"cores,omitempty"`
	Cpuset string  `json:"cpuset,omitempty"`
}

// Size is a memory limit in bytes.
type Size struct {
	Size int64 `json:"size,omitempty"`
}

// Pids limits the number of processes.
type Pids struct {
	Limit int64 `json:"limit,omitempty"`
}

// GPU is one GPU request (vendor nvidia, amd or intel).
type GPU struct {
	Vendor string   `json:"vendor"`
	IDs    []string `json:"ids,omitempty"`
	Count  int      `json:"count,omitempty"`
}

// Input is a host path bound into the job (subject to the executor's
// policy.bind_roots).
type Input struct {
	Type     string `json:"type,omitempty"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly *bool  `json:"read_only,omitempty"`
}

// Output is a directory under ResultsDir bound writable into the job.
type Output struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// ExecutionResult is what Wait and Run deliver.
type ExecutionResult struct {
	ExitCode        int     `json:"exit_code"`
	Stdout          string  `json:"stdout"`
	Stderr          string  `json:"stderr"`
	StdoutTruncated bool    `json:"stdout_truncated"`
	StderrTruncated bool    `json:"stderr_truncated"`
	ErrorMsg        *string `json:"error_msg"`
	OOMKilled       bool    `json:"oom_killed"`
	Cancelled       bool    `json:"cancelled"`
	Signal          int     `json:"signal"`
	StartedAt       *string `json:"started_at"`
	FinishedAt      *string `json:"finished_at"`
	// Raw is the document as dms-host sent it, for fields this package
	// does not name (e.g. usage, services).
	Raw json.RawMessage `json:"-"`
}

// LogStreamRequest asks GetLogStream for a job's output.
type LogStreamRequest struct {
	ExecutionID string `json:"execution_id"`
	// Tail: only output produced from now on.
	Tail bool `json:"tail,omitempty"`
	// Follow: stay open until the job ends, then EOF.
	Follow bool `json:"follow,omitempty"`
	// Lines: only the last Lines lines per stream (nil: all).
	Lines *int `json:"lines,omitempty"`
	// Format: "framed" (default, Docker's 8-byte headers) or "plain".
	Format string `json:"format,omitempty"`
}

// ExecutionInfo is one entry of List.
type ExecutionInfo struct {
	ExecutionID string `json:"execution_id"`
	JobID       string `json:"job_id"`
	State       string `json:"state"`
	ContainerID string `json:"container_id"`
}

func parseResult(doc string) (*ExecutionResult, error) {
	r := &ExecutionResult{}
	if err := json.Unmarshal([]byte(doc), r); err != nil {
		return nil, err
	}
	r.Raw = json.RawMessage(doc)
	return r, nil
}
