"""The gateway's notifications wing."""
