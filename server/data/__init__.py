"""Data files shipped with the server (the common-password list of the password policy)."""
