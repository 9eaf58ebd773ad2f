"""Calls: WhatsApp calls with customers, one row per call, shown in their conversations."""
