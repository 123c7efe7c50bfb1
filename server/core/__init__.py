"""Settings and database plumbing for the server."""
