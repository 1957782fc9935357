"""The engine's opt-ins in every Python the suites start (the CLI, the examples, the demos).

``tests/conftest.py`` puts this folder on ``PYTHONPATH`` only while
``SECURE_RUN_TEST_OPT_INS`` names opt-ins (``scripts/engines.sh env rootless`` exports
``unenforced-limits``): Python then imports this module at start-up, and every builder
started from a preset (``sr.preset``, ``sr.builder``, the CLI's ``--preset``) grants
them, as a user of that engine must. The suite's own process gets the same from the
``_engine_opt_ins`` fixture.
"""

from __future__ import annotations

import os

_GRANTED = tuple(
    o.strip() for o in os.environ.get("SECURE_RUN_TEST_OPT_INS", "").split(",") if o.strip()
)

if _GRANTED:
    try:
        from secure_run._config import presets as _presets
    except ImportError:  # a Python without secure_run: nothing to grant
        pass
    else:
        for _name, _start in list(_presets._STARTS.items()):
            _presets._STARTS[_name] = _start.opt_in(*_GRANTED)
