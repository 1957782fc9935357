"""Every preset's export of every kind, checked by tools that are not secure_run's.

* ``kubernetes-validate`` (strict: an unknown field fails) against a recent Kubernetes;
* our Pod Security Standards checker (``pss.py``): restricted, sandbox and service meet
  "restricted", baseline meets "baseline";
* checkov's Kubernetes checks on the restricted preset: no failure but the ones in
  :data:`CHECKOV_EXCEPTIONS`, the one list of them, which docs/cluster.md quotes.

Each preset needs the opt-ins in :data:`NEEDS` to export at all (docs/cluster.md says why).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pss import violations

import secure_run as sr
from secure_run._export.yaml import dump_all

kubernetes_validate = pytest.importorskip("kubernetes_validate")
kubernetes_versions = pytest.importorskip("kubernetes_validate.utils")

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example/secure-run-task:1.0"
KINDS = ("Pod", "Job", "Deployment")
PRESETS = tuple(sorted(sr.presets()))  # every preset: a new one needs a LEVEL below
#: The Kubernetes version the schema check uses, and also the newest kubernetes-validate
#: knows (1.37 with kubernetes-validate 1.37.0), so a field a new release drops fails here.
KUBERNETES_VERSION = "1.34"
NEWEST_VERSION = ".".join(kubernetes_versions.latest_version().split(".")[:2])
VERSIONS = sorted({KUBERNETES_VERSION, NEWEST_VERSION})
#: The Pod Security level each preset meets.
LEVEL = {"restricted": "restricted", "sandbox": "restricted", "service": "restricted",
         "gvisor": "restricted", "baseline": "baseline"}  # fmt: skip
#: The opt-ins a preset needs for a kind: every preset sets a pids limit, ulimits, log
#: limits and no swap (left to the nodes); a Deployment always restarts, and a Pod's
#: OnFailure restarts without the service preset's bound of 5.
NEEDS = {
    (preset, kind): ("kubernetes-node-limits",)
    + (("unbounded-restart",) if kind == "Deployment" or (preset, kind) == ("service", "Pod")
       else ())
    for preset in PRESETS for kind in KINDS
}  # fmt: skip

#: checkov's checks that fail on the restricted preset's export, each with why it cannot
#: apply to a manifest generated from a config. docs/cluster.md quotes this table.
CHECKOV_EXCEPTIONS = {
    "CKV_K8S_43": "Image should use digest: the image reference is the caller's; a config "
    "naming an image by digest (name@sha256:...) passes",
    "CKV_K8S_8": "Liveness Probe Should be Configured: a config has no liveness check to "
    "carry; Docker's healthcheck reports without killing, so it becomes the readinessProbe",
    "CKV_K8S_9": "Readiness Probe Should be Configured: it comes from the config's "
    "healthcheck, which a preset cannot know (the command is the caller's); with "
    ".healthcheck() the export has one and passes",
}


def export(preset: str, kind: str, **changes: Any) -> list[dict[str, Any]]:
    builder = sr.preset(preset, IMAGE).opt_in(*NEEDS[preset, kind])
    for method, args in changes.items():
        builder = getattr(builder, method)(*args)
    return builder.build().to_kubernetes(kind=kind, namespace="tasks", name=f"{preset}-task")


CASES = [(p, k) for p in PRESETS for k in KINDS]


def test_every_preset_has_its_pod_security_level():
    """Each preset the code has is judged here: a new preset must be given its level."""
    assert set(LEVEL) == set(PRESETS)


def test_each_preset_is_refused_without_its_opt_ins():
    """Without kubernetes-node-limits, every preset is refused, naming the pids limit."""
    for preset in PRESETS:
        with pytest.raises(sr.UnsupportedFeature) as info:
            sr.preset(preset, IMAGE).build().to_kubernetes()
        assert "pids_limit" in {p.field for p in info.value.problems}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("preset", "kind"), CASES)
def test_export_validates_against_the_kubernetes_schema(preset, kind, version):
    """kubernetes-validate (strict) accepts every object, read back from our YAML."""
    objects = list(yaml.safe_load_all(dump_all(export(preset, kind))))
    assert [o["kind"] for o in objects] == [kind, "NetworkPolicy"][: len(objects)]
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_can_fail():
    """A misspelt field in an exported Pod is refused by the strict schema check."""
    pod = export("restricted", "Pod")[0]
    pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("preset", "kind"), CASES)
def test_export_meets_its_pod_security_level(preset, kind):
    """The workload meets its preset's Pod Security level with our checker."""
    workload = export(preset, kind)[0]
    assert violations(workload, LEVEL[preset]) == []


def test_baseline_does_not_meet_restricted():
    """The checker tells the presets apart: baseline's added capabilities fail restricted."""
    found = violations(export("baseline", "Pod")[0], "restricted")
    assert {v.split(":")[0] for v in found} == {"capabilities_restricted"}


@pytest.mark.parametrize("kind", KINDS)
def test_network_none_adds_a_deny_all_policy(kind):
    """restricted (network none) gets a NetworkPolicy selecting its pod with no rule at all."""
    workload, policy = export("restricted", kind)
    labels = (workload["metadata"]["labels"] if kind == "Pod"
              else workload["spec"]["template"]["metadata"]["labels"])  # fmt: skip
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]
    assert "egress" not in policy["spec"]


# -- checkov --------------------------------------------------------------------------------


def checkov(tmp_path: Path, objects: list[dict[str, Any]]) -> dict[str, str]:
    """checkov's failed Kubernetes checks on the objects: id -> name. Never on the network."""
    exe = os.environ.get("SECURE_RUN_CHECKOV") or shutil.which("checkov")
    if not exe:
        if os.environ.get("SECURE_RUN_REQUIRE_CHECKOV") == "1":
            pytest.fail("SECURE_RUN_REQUIRE_CHECKOV=1 but no checkov: run scripts/checkov.sh")
        pytest.skip('checkov is not installed: export SECURE_RUN_CHECKOV="$(scripts/checkov.sh)"')
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(dump_all(objects))
    argv = [exe, "--framework", "kubernetes", "-f", str(manifest), "--skip-download",
            "--quiet", "--output", "json"]  # fmt: skip
    if os.geteuid() == 0 and shutil.which("unshare"):  # no network namespace, no traffic
        argv = ["unshare", "--net", *argv]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # the child's copy only
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(done.stdout)
    results = report if isinstance(report, list) else [report]
    return {c["check_id"]: c["check_name"] for r in results
            for c in r["results"]["failed_checks"]}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_checkov_finds_nothing_but_the_named_exceptions(kind, tmp_path):
    """checkov fails no check on restricted's export but the ones CHECKOV_EXCEPTIONS names."""
    failed = checkov(tmp_path, export("restricted", kind))
    assert set(failed) <= set(CHECKOV_EXCEPTIONS), failed


def test_checkov_exceptions_are_needed(tmp_path):
    """Each exception still fails on restricted's Pod, so the list cannot rot."""
    assert set(checkov(tmp_path, export("restricted", "Pod"))) == set(CHECKOV_EXCEPTIONS)


def test_checkov_can_fail(tmp_path):
    """checkov reports a planted weakness: a Pod that allows privilege escalation."""
    objects = export("restricted", "Pod")
    objects[0]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    assert "CKV_K8S_20" in checkov(tmp_path, objects)


def test_a_healthcheck_and_a_digest_clear_two_exceptions(tmp_path):
    """With a healthcheck and an image digest, only the liveness probe is left."""
    digest = "registry.example/task@sha256:" + "a" * 64
    objects = export("restricted", "Pod", healthcheck=(["true"],), image=(digest,))
    assert set(checkov(tmp_path, objects)) == {"CKV_K8S_8"}


def test_the_docs_quote_every_checkov_exception():
    """docs/cluster.md lists each exception with its reason, word for word."""
    text = (ROOT / "docs" / "cluster.md").read_text()
    for check_id, reason in CHECKOV_EXCEPTIONS.items():
        assert f"| `{check_id}` | {reason} |" in text
