"""Business calendars (营业时间): when an entry point is open. See `model`."""
