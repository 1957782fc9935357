"""The machinery of :mod:`secure_run.aio`: sync engine calls in threads, undone on cancellation."""
