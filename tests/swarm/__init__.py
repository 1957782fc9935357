"""Tests on a real multi-node Docker Swarm (``scripts/swarm.sh up``)."""
