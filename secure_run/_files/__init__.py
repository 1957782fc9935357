"""File transfer for untrusted-code sessions: names checked, archives built and read safely."""
