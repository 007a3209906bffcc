// Package progress carries an acceptance run's progress from the suite to the verify command, and
// shows it to a person: the step being run, seeding with its rate and ETA, load exports done out
// of planned, and each check's result as it is decided; then a summary of every check.
//
// The suite writes Events as JSON lines to a file descriptor verify hands it (EnvFD); verify reads
// them and prints them with a Printer. On a terminal the Printer may colour and update a line in
// place; anywhere else (a CI log, a file) it writes plain lines only, and fewer of them.
package progress

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// EnvFD names the environment variable that gives the suite the file descriptor to write its
// events to. Without it the suite reports no progress this way.
const EnvFD = "EXPORTATSCALE_PROGRESS_FD"

// Kinds of Event.
const (
	KindStep  = "step"  // Text: what the run does now
	KindSeed  = "seed"  // Dataset, Done, Total, Rate (records/s), ETA
	KindLoad  = "load"  // Done, Total: exports received of planned
	KindCheck = "check" // Check: a check decided
)

// Event is one piece of a run's progress.
type Event struct {
	Kind    string        `json:"kind"`
	Text    string        `json:"text,omitempty"`
	Dataset string        `json:"dataset,omitempty"`
	Done    int           `json:"done,omitempty"`
	Total   int           `json:"total,omitempty"`
	Rate    float64       `json:"rate,omitempty"`
	ETA     time.Duration `json:"eta_ns,omitempty"`
	Check   *Check        `json:"check,omitempty"`
}

// Check is a decided check as the progress shows it: its id, title, status and its main
// measured value against its threshold.
type Check struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"` // passed, failed, not run
	Main   string `json:"main,omitempty"`
}

// Writer sends events as JSON lines. It is safe for concurrent use; a nil *Writer sends nothing.
type Writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewWriter sends events to w.
func NewWriter(w io.Writer) *Writer { return &Writer{enc: json.NewEncoder(w)} }

// Send writes e; progress is best effort, so a failed write is dropped.
func (w *Writer) Send(e Event) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(e)
}

// Read decodes the events of r until its end, handing each to fn.
func Read(r io.Reader, fn func(Event)) error {
	dec := json.NewDecoder(r)
	for {
		var e Event
		if err := dec.Decode(&e); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		fn(e)
	}
}
