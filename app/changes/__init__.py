"""The change-event stream: what changed, for other services and the live inbox."""
