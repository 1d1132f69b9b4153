package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watchRollout follows the rollout every interval until it ends or ctx
// ends. On a terminal (table format) it redraws the status in place;
// otherwise it writes the rollout again each time it or its latest
// analysis changes. It returns nil when the rollout ended promoted, and an
// error (exit status 1) when it was rolled back or aborted, or when ctx
// ended first. A server that cannot be reached is retried: a restart does
// not end the watch.
func (a *app) watchRollout(ctx context.Context, id int64, every time.Duration) error {
	api := a.client()
	tty := false
	if f, ok := a.stdout.(*os.File); ok && a.output == formatTable {
		tty = isTerminal(f)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var (
		last    *client.RolloutView
		lastKey string
		blocks  int
		down    bool
	)
	for {
		v, err := api.GetRollout(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return stoppedWatching(id, last)
		case err != nil:
			var ce *client.ConnectionError
			if !errors.As(err, &ce) {
				return err
			}
			if !down {
				msg, _, _ := strings.Cut(err.Error(), "\n")
				fmt.Fprintf(a.stderr, "%s; retrying every %s\n", msg, formatDuration(every))
				down = true
			}
		default:
			if down {
				fmt.Fprintln(a.stderr, "reached the server again")
				down = false
			}
			last = v
			key := strconv.FormatInt(v.Version, 10)
			if v.Latest != nil {
				key += "/" + strconv.FormatInt(v.Latest.ID, 10)
			}
			if tty || key != lastKey {
				if err := a.writeWatchBlock(v, tty, blocks, every); err != nil {
					return err
				}
				blocks++
			}
			lastKey = key
			if !v.Status.Active() {
				return endedStatus(v)
			}
		}
		select {
		case <-ctx.Done():
			return stoppedWatching(id, last)
		case <-tick.C:
		}
	}
}

// writeWatchBlock writes one look at the rollout: redrawn in place on a
// terminal, else appended to what came before.
func (a *app) writeWatchBlock(v *client.RolloutView, tty bool, n int, every time.Duration) error {
	now := time.Now()
	switch a.output {
	case formatJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	case formatYAML:
		b, err := toYAML(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "---\n%s", b)
		return err
	}
	if tty {
		fmt.Fprint(a.stdout, clearScreen)
	} else {
		if n > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "== %s ==\n", formatTime(now))
	}
	printRolloutStatus(a.stdout, v, now)
	if tty && v.Status.Active() {
		fmt.Fprintf(a.stdout, "\nwatching every %s; Ctrl-C stops (updated %s)\n", formatDuration(every), now.Format("15:04:05"))
	}
	return nil
}

// endedStatus is the result of a watch that saw the rollout end: nil if
// it was promoted, an error that says how it ended otherwise.
func endedStatus(v *client.RolloutView) error {
	if v.Status == ramp.RolloutPromoted {
		return nil
	}
	msg := fmt.Sprintf("rollout %d of %s in %s was %s", v.ID, v.Flag, v.Environment, statusWords(v.Status))
	if v.Reason != "" {
		msg += ": " + v.Reason
	}
	return errors.New(msg)
}

func stoppedWatching(id int64, last *client.RolloutView) error {
	if last == nil {
		return fmt.Errorf("stopped watching rollout %d before reading it", id)
	}
	return fmt.Errorf("stopped watching rollout %d of %s in %s: it is still %s", id, last.Flag, last.Environment, last.Status)
}
