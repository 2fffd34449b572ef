package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/careslot/careslot/subscriptions"
)

// subscriptionsCommand runs `careslot subscriptions dlq list|replay [-subscription id]`:
// the operator's view of the notifications that failed every retry.
func subscriptionsCommand(ctx context.Context, cfg config, args []string, out io.Writer) error {
	usage := fmt.Errorf("usage: careslot subscriptions dlq list [-max N] | careslot subscriptions dlq replay [-subscription ID]")
	if len(args) < 2 || args[0] != "dlq" {
		return usage
	}
	flags := flag.NewFlagSet("dlq "+args[1], flag.ContinueOnError)
	flags.SetOutput(out)
	max := flags.Int("max", 100, "list at most this many")
	sub := flags.String("subscription", "", "replay only this subscription's notifications")
	if err := flags.Parse(args[2:]); err != nil {
		return err
	}
	switch args[1] {
	case "list":
		parked, err := subscriptions.ListDLQ(ctx, cfg.Subscriptions.AMQPURL, *max)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		for _, p := range parked {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "%d parked notification(s) listed\n", len(parked))
		return nil
	case "replay":
		n, err := subscriptions.ReplayDLQ(ctx, cfg.Subscriptions.AMQPURL, *sub)
		fmt.Fprintf(out, "%d notification(s) replayed\n", n)
		return err
	}
	return usage
}
