"""The gateway's dashboards wing."""
