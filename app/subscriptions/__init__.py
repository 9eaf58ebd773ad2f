"""Webhooks out: internal services subscribe to events and receive them as signed POSTs."""
