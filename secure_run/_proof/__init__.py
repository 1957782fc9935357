"""Proof: the in-container probe and verify(), from the kernel's own view."""
