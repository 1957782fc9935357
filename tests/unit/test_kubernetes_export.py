"""RunConfig.to_kubernetes: each field reaches the manifest, is refused, or is left by an opt-in."""

from __future__ import annotations

import json

import attrs
import pytest
from test_field_checklist import INIT_FIELDS, pair

import secure_run as sr
from secure_run import _cli
from secure_run._export.kubernetes import LOSSES_ANNOTATION

NODE = "kubernetes-node-limits"
#: Fields whose sample leaves the manifest as it was, and why.
NOT_EXPORTED = {
    "opt_ins": "a grant, not a setting: the manifest records the opt-ins the export relies on",
}


def manifest(cfg: sr.RunConfig, kind: str = "Pod") -> str:
    """The export as text, the digest aside; a refusal names the refused fields."""
    try:
        objects = cfg.to_kubernetes(kind=kind)
    except (sr.UnsupportedFeature, sr.ConfigError) as exc:
        return "refused: " + ", ".join(sorted(p.field for p in exc.problems))
    return json.dumps(objects, sort_keys=True).replace(cfg.digest(), "<digest>")


def granted(cfg: sr.RunConfig) -> sr.RunConfig:
    """The config with kubernetes-node-limits granted (the checklist's base sets pids etc.)."""
    return attrs.evolve(cfg, opt_ins=(*cfg.opt_ins, sr.OptIn.K8S_NODE_LIMITS))


@pytest.mark.parametrize("field", [f for f in INIT_FIELDS if f not in NOT_EXPORTED])
def test_every_field_changes_the_manifest_or_is_refused(field):
    """The field's sample changes the Pod, or the export refuses it: nothing is dropped."""
    start, changed = (granted(c) for c in pair(field))
    after = manifest(changed)
    assert after != manifest(start), f"to_kubernetes() ignores {field}"
    if after.startswith("refused: "):
        assert field in after or field.split("_")[0] in after


@pytest.mark.parametrize("field", sorted(NOT_EXPORTED))
def test_export_exemptions_are_needed(field):
    """An exempt field's sample really leaves the manifest as it was."""
    start, changed = (granted(c) for c in pair(field))
    assert manifest(changed) == manifest(start)


def build(*steps, preset="restricted", opt_ins=(NODE,)):
    builder = sr.preset(preset, "busybox:1.36").opt_in(*opt_ins)
    for step in steps:
        builder = step(builder)
    return builder.build()


def pod(cfg, **kw):
    return cfg.to_kubernetes(**kw)[0]


def container(cfg, **kw):
    return pod(cfg, **kw)["spec"]["containers"][0]


def refused(cfg, **kw):
    with pytest.raises(sr.UnsupportedFeature) as info:
        cfg.to_kubernetes(**kw)
    return {p.field for p in info.value.problems}


def test_restricted_security_context():
    """The restricted preset's identity, privileges, capabilities, root fs and seccomp."""
    spec = pod(build())["spec"]
    ctx = spec["containers"][0]["securityContext"]
    assert spec["securityContext"]["runAsUser"] == 65534
    assert ctx["runAsNonRoot"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert (spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (False, False, False)


def test_resources_take_the_reservation_as_the_request():
    """memory 512Mi limit with its 256Mi reservation as the request; 1 CPU as both."""
    assert container(build())["resources"] == {
        "limits": {"memory": "512Mi", "cpu": "1"}, "requests": {"memory": "256Mi", "cpu": "1"}}


def test_cpu_shares_become_the_cpu_request():
    """512 shares are the kubelet's form of a 500m request."""
    cfg = build(lambda b: b.cpus(2).cpu_shares(512))
    assert container(cfg)["resources"]["requests"]["cpu"] == "500m"


def test_tmpfs_and_workspace_are_memory_empty_dirs():
    """Each tmpfs, and the workspace, is an emptyDir in memory with its size; the losses noted."""
    cfg = build(lambda b: b.workspace("/work", "16m"))
    spec = pod(cfg)["spec"]
    assert {v["name"]: v["emptyDir"] for v in spec["volumes"]} == {
        "tmp-0": {"medium": "Memory", "sizeLimit": "64Mi"},
        "workspace": {"medium": "Memory", "sizeLimit": "16Mi"}}
    assert spec["containers"][0]["workingDir"] == "/work"
    assert "noexec" in pod(cfg)["metadata"]["annotations"][LOSSES_ANNOTATION]


def test_node_limits_without_the_opt_in_are_refused_together():
    """pids, ulimits, log limits and no-swap are all named in one refusal."""
    assert refused(build(opt_ins=())) == {"pids_limit", "ulimits", "log_limits", "memory_swap"}


def test_node_limits_with_the_opt_in_are_recorded():
    """With the opt-in, the losses are in an annotation and the opt-in in io.secure-run.opt-ins."""
    notes = pod(build())["metadata"]["annotations"]
    assert "pids_limit: 128" in notes[LOSSES_ANNOTATION]
    assert notes["io.secure-run.opt-ins"] == NODE


@pytest.mark.parametrize(("kind", "policy", "expected"), [
    ("Pod", None, ("Never", None)),
    ("Job", None, ("Never", 0)),
    ("Job", ("on-failure", 3), ("OnFailure", 3)),
    ("Deployment", ("always",), ("Always", None)),
    ("Pod", ("always",), ("Always", None)),
])  # fmt: skip
def test_restart_policy_per_kind(kind, policy, expected):
    """Each kind gets a restartPolicy it allows; a Job's retries are its backoffLimit."""
    steps = [] if policy is None else [lambda b: b.restart(*policy).opt_in("unbounded-restart")]
    workload = pod(build(*steps), kind=kind)
    spec = workload["spec"]
    pod_spec = spec if kind == "Pod" else spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == expected[0]
    assert spec.get("backoffLimit") == expected[1]


@pytest.mark.parametrize(("kind", "steps"), [
    ("Deployment", []),
    ("Pod", [lambda b: b.restart("on-failure", 3)]),
    ("Job", [lambda b: b.restart("always").opt_in("unbounded-restart")]),
])  # fmt: skip
def test_restart_policies_a_kind_cannot_keep_are_refused(kind, steps):
    """A Deployment that must not restart, a Pod's bounded retries, a Job for ever: refused."""
    assert refused(build(*steps), kind=kind) == {"restart"}


def test_unbounded_restart_carries_a_lost_bound():
    """With unbounded-restart granted, a Pod's on-failure:3 is OnFailure and the loss noted."""
    cfg = build(lambda b: b.restart("on-failure", 3).opt_in("unbounded-restart"))
    assert pod(cfg)["spec"]["restartPolicy"] == "OnFailure"
    assert "restart: on-failure:3" in pod(cfg)["metadata"]["annotations"][LOSSES_ANNOTATION]


def test_network_none_only_adds_the_policy():
    """network none gives [workload, NetworkPolicy]; bridge gives the workload alone."""
    assert [o["kind"] for o in build().to_kubernetes()] == ["Pod", "NetworkPolicy"]
    bridge = build(lambda b: b.network("bridge"))
    assert [o["kind"] for o in bridge.to_kubernetes(kind="Job")] == ["Job"]


def test_custom_seccomp_is_a_localhost_profile_named_by_content():
    """A custom profile is Localhost secure-run/<sha256 prefix>.json, also in an annotation."""
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
    cfg = build(lambda b: b.seccomp(profile))
    seccomp = pod(cfg)["spec"]["securityContext"]["seccompProfile"]
    assert seccomp["type"] == "Localhost"
    assert seccomp["localhostProfile"].startswith("secure-run/")
    assert pod(cfg)["metadata"]["annotations"]["io.secure-run.seccomp-profile"] == (
        seccomp["localhostProfile"])


def test_env_values_stay_out_unless_revealed():
    """Env values come from the Secret <name>-env by default; reveal_env writes them."""
    cfg = build(lambda b: b.env(TOKEN="s3cret"))  # noqa: S106 - a sample value
    assert "s3cret" not in json.dumps(cfg.to_kubernetes())
    assert container(cfg)["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "secure-run-env"
    assert container(cfg, reveal_env=True)["env"] == [{"name": "TOKEN", "value": "s3cret"}]


@pytest.mark.parametrize(("kw", "field"), [
    ({"kind": "StatefulSet"}, "kind"), ({"name": "Not_A_Label"}, "name"),
    ({"namespace": "x" * 64}, "namespace")])  # fmt: skip
def test_bad_arguments_are_config_errors(kw, field):
    """An unknown kind, or a name Kubernetes refuses, is a ConfigError naming the argument."""
    with pytest.raises(sr.ConfigError) as info:
        build().to_kubernetes(**kw)
    assert info.value.problems[0].field == field


def test_labels_are_valid_kubernetes_labels():
    """The user's labels and secure_run's preset label are labels; an invalid one is refused."""
    cfg = build(lambda b: b.labels(team="infra"))
    assert pod(cfg)["metadata"]["labels"]["team"] == "infra"
    assert pod(cfg)["metadata"]["labels"]["io.secure-run.preset"] == "restricted"
    assert refused(build(lambda b: b.labels(note="has spaces"))) == {"labels"}


@pytest.mark.parametrize(("step", "field"), [
    (lambda b: b.cpuset("0"), "cpuset"),
    (lambda b: b.memory("512m", swap="1g"), "memory_swap"),
    (lambda b: b.opt_in("devices").device("/dev/fuse"), "devices"),
    (lambda b: b.cpu_quota(50_000, 200_000), "cpu_period"),
])  # fmt: skip
def test_settings_without_a_stand_in_are_refused_even_with_the_opt_in(step, field):
    """cpuset, a swap amount, devices and a CFS period of its own: refused, opt-in or not."""
    assert refused(build(step)) == {field}


CLI_ARGS = ["config", "--format", "kubernetes", "--kind", "Job", "--namespace", "tasks",
            "--name", "task"]  # fmt: skip


@pytest.mark.parametrize("preset", sorted(sr.presets()))
def test_the_cli_prints_the_export_as_yaml(capsys, preset):
    """`secure-run config --format kubernetes` prints what to_kubernetes() gives, as YAML."""
    yaml = pytest.importorskip("yaml")
    code = _cli.main([*CLI_ARGS, "--preset", preset, "--opt-in", NODE,
                      "busybox:1.36", "--", "sh", "-c", "echo hi"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    cfg = (sr.preset(preset, "busybox:1.36").opt_in(NODE).name("task")
           .command(["sh", "-c", "echo hi"]).build())  # fmt: skip
    assert list(yaml.safe_load_all(out)) == cfg.to_kubernetes(kind="Job", namespace="tasks")
    assert out.startswith("---\napiVersion: batch/v1\nkind: Job\n")


def test_the_cli_refuses_what_kubernetes_cannot_carry_naming_the_opt_in(capsys):
    """Without kubernetes-node-limits the CLI prints nothing and names each field and the opt-in."""
    code = _cli.main([*CLI_ARGS, "--preset", "sandbox", "busybox:1.36", "--", "true"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    for field in ("pids_limit=64", "ulimits=", "log_limits=", "memory_swap="):
        assert field in err
    assert "--opt-in kubernetes-node-limits" in err
