"""The gateway's edge wing."""
