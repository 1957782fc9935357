"""Exporters: a RunConfig as docker-py kwargs, a docker run argv, a compose service."""
