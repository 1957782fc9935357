"""Talking to the engine: client, error translation, facts, launch, batches, cleanup."""
