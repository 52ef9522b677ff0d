"""The gateway's transport wing."""
