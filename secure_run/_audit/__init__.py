"""Audit: the CIS and Pod Security checks of containers (``audit``), and the daemon ``doctor``.

Both read the daemon through one locator (``daemon``); the audit's checks live by topic
in ``checks_*`` and ``pss``, ordered by ``catalog``; the doctor's rules in ``doctor_checks_*``.
"""
