"""Automatic replies: greeting, away message and call instructions."""
