package api

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"

	"github.com/exportatscale/exportatscale/harness/seed"
)

// commandLoader is an API whose profile ingests through a command: the command, its {dataset}
// filled in, gets the records as NDJSON on its standard input, once per batch, and must exit 0
// having stored them all.
type commandLoader struct{ *API }

// Load runs the profile's ingest command for recs.
func (c commandLoader) Load(ctx context.Context, dataset string, schema seed.Schema, recs []seed.Record) error {
	argv := make([]string, len(c.p.Ingest.Command))
	v := values{"dataset": text(dataset)}
	for i, a := range c.p.Ingest.Command {
		argv[i] = v.fill(a, same)
	}
	body, err := c.enc.records("ndjson", schema, recs)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ingest command %s: %w: %s", argv[0], err, short(bytes.TrimSpace(out.Bytes())))
	}
	return nil
}

// Seeder is what a seed.Client takes for the API: the API itself, or, when its profile ingests
// through a command, the API with that command as its loader.
func (a *API) Seeder() seed.API {
	if len(a.p.Ingest.Command) > 0 {
		return commandLoader{a}
	}
	return a
}
