"""Retention: raw events, finished jobs and media files are kept for a set time only."""
