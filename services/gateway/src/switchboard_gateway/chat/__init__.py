"""The gateway's chat wing."""
