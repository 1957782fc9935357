"""Proof: what a container really got, from the kernel's own view.

``kernel`` parses the kernel's state (``/proc/<pid>`` files, cgroup v1/v2 limits) for
both readers: ``host`` reads a process from the host, ``probe`` from inside a container
(``probe_text`` renders its summary). ``verify`` compares a container with its config
from two sources, ``inspect_checks`` (the daemon's record) and ``kernel_checks`` (the
kernel's state), against Docker's rules in ``expected``; ``verify_report`` holds
:class:`~secure_run.Check` and :class:`~secure_run.VerifyReport`. ``procfs`` reads a
host process's start time.
"""
