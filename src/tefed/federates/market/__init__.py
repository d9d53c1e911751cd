"""Market federate: collects orders, clears them, sends awards, settles delivered energy."""
