"""Audit: the CIS and Pod Security checks of running containers, and the daemon doctor."""
