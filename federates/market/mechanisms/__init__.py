"""Market clearing mechanisms of the tefed market federate (pure functions over order books)."""
