"""Import time: ``import secure_run`` against ``import docker``, each in a fresh interpreter.

Two measures, interleaved run by run: the wall time of ``python3 -c "import X"``
minus that of ``python3 -c pass`` (the interpreter's own start-up), and the
cumulative time ``python3 -X importtime`` reports for the top-level module.
``secure_run`` loads its public names on first use (PEP 562), docker-py with them, so
a bare ``import secure_run`` does not import docker; the result says whether it did.

Run alone: ``python3 benchmarks/import_time.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import common

MODULES = ("docker", "secure_run")


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(common.ROOT), path) if p)}


def wall(statement: str) -> float:
    return common.timed(
        lambda: subprocess.run([sys.executable, "-c", statement], check=True, env=_env())
    )


def importtime_us(module: str, own: dict[str, list[float]] | None = None) -> int:
    """The cumulative microseconds ``-X importtime`` gives ``module``'s own import line.

    ``own`` collects the self time (ms) of each of ``module``'s submodules.
    """
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    ).stderr
    total = None
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        if parts[2] == module:
            total = int(parts[1])
        elif own is not None and parts[2].startswith(module + "."):
            own.setdefault(parts[2], []).append(int(parts[0].split()[-1]) / 1000)
    if total is None:
        raise RuntimeError(f"no importtime line for {module}")
    return total


def measure(runs: int) -> dict[str, Any]:
    for module in MODULES:  # warm the file cache and the bytecode
        wall(f"import {module}")
    bare: list[float] = []
    walls: dict[str, list[float]] = {m: [] for m in MODULES}
    cumulative: dict[str, list[float]] = {m: [] for m in MODULES}
    own: dict[str, list[float]] = {}
    for i in range(runs):
        bare.append(wall("pass"))
        for module in MODULES if i % 2 == 0 else MODULES[::-1]:
            walls[module].append(wall(f"import {module}"))
            cumulative[module].append(
                importtime_us(module, own if module == "secure_run" else None) / 1000
            )
    start = common.summary(bare)["median"]
    result: dict[str, Any] = {
        "runs": runs,
        "interpreter_start_ms": start * 1000,
        "modules": {
            m: {
                "wall_ms": common.summary([x * 1000 for x in walls[m]]),
                "beyond_start_ms": common.summary([(x - b) * 1000 for x, b in zip(walls[m], bare)]),
                "importtime_ms": common.summary(cumulative[m]),
            }
            for m in MODULES
        },
    }
    submodules = {name: common.summary(v)["median"] for name, v in own.items()}
    result["secure_run_submodules_self_ms"] = dict(
        sorted(submodules.items(), key=lambda kv: -kv[1])[:8]
    )
    sr_it = result["modules"]["secure_run"]["importtime_ms"]["median"]
    dk_it = result["modules"]["docker"]["importtime_ms"]["median"]
    result["ratio_importtime"] = sr_it / dk_it
    result["secure_run_imports_docker"] = imports_docker()
    result["secure_run_own_ms"] = sr_it - dk_it if result["secure_run_imports_docker"] else sr_it
    return result


def imports_docker() -> bool:
    """Whether a bare ``import secure_run`` imports docker-py."""
    check = "import sys, secure_run; print('docker' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], check=True, capture_output=True,
                          text=True, env=_env())  # fmt: skip
    return done.stdout.strip() == "True"


def main() -> int:
    res = measure(5 if common.QUICK else 30)
    for m, row in res["modules"].items():
        print(
            f"import {m:11} wall beyond start {row['beyond_start_ms']['median']:6.1f} ms, "
            f"-X importtime {row['importtime_ms']['median']:6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
