"""What happens to an alert after it fires: grouping, dedup, silences, routing, notifiers."""
