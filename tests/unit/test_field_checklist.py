"""Every RunConfig field reaches each place the checklist in docs/architecture.md names.

For each init field, :data:`SAMPLES` changes that field alone on a secure config (a
few start elsewhere, see :data:`STARTS`), and each test asks one place whether it
notices the change: the builder, ``explain``'s table, the three exporters, verify's
checks of the daemon's record, the config audit. A place that does not notice a field
says why in its exemption table below, and every entry is checked to be still needed,
so the tables cannot rot. A new field with no sample fails every test here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable

import attrs
import pytest

import secure_run as sr
from secure_run._audit.config_record import config_inspect
from secure_run._config.explain import SETTINGS
from secure_run._config.presets import PRESETS
from secure_run._config.run_config import RunConfig
from secure_run._proof.inspect_checks import inspect_checks

IMAGE = "busybox:1.36"
BASE = sr.builder(IMAGE)
INIT_FIELDS = [a.name for a in attrs.fields(RunConfig) if a.init]
EXPORTERS = ("to_docker_kwargs", "to_cli", "to_compose")
CONTROLS = {s.field: s.controls for s in SETTINGS}

Step = Callable[[sr.RunBuilder], sr.RunBuilder]

# -- the exemption tables: a place that does not notice a field, and why ----------------

#: Fields no builder method sets: their samples come from a preset's table.
NO_BUILDER_STEP: dict[str, str] = {
    "preset": "the name of the starting point, set by sr.preset(name, image)",
    "cap_drop": "always drops ALL (a rule refuses less); .cap_drop() takes names out of cap_add",
}

#: Fields with no Setting in explain's table.
NOT_EXPLAINED: dict[str, str] = {
    "preset": "the starting point, not a setting: explain() quotes its reasons for the others",
}

#: Fields the exporters do not write (after the config digest label is set aside).
NOT_EXPORTED: dict[str, str] = {
    "opt_ins": "a grant, not a setting: the exporters write the opt-ins the config uses "
    "(the io.secure-run.opt-ins label), which change with the setting that needs one",
}

#: Fields verify does not compare with the daemon's record.
NOT_VERIFIED: dict[str, str] = {
    "image": "what runs, not how it is confined",
    "command": "what runs, not how it is confined",
    "entrypoint": "what runs, not how it is confined",
    "env": "what runs, not how it is confined; its values stay out of every report",
    "workdir": "what runs, not how it is confined",
    "hostname": "a name inside the container's own UTS namespace; uts_mode is checked",
    "name": "the container's name, not its confinement",
    "labels": "metadata; the engine may add its own",
    "preset": "a name, not a setting: the settings it gave are checked one by one",
    "opt_ins": "a grant, not a setting: the setting it permits is checked",
}

#: Fields whose Setting names a CIS or PSS control that the config audit does not judge.
NOT_AUDITED: dict[str, str] = {
    "memory_reservation": "CIS 5.11 asks for a memory limit: the check reads HostConfig.Memory",
    "memory_swap": "CIS 5.11 asks for a memory limit: the check reads HostConfig.Memory",
    "cpu_period": "CIS 5.12 reads CpuShares, NanoCpus and CpuQuota; a period alone is no limit",
    "tmpfs": "CIS 5.13 asks for a read-only root; the tmpfs is the scratch space beside it",
}

# -- the samples ----------------------------------------------------------------------


def restricted_with(**changes: object) -> sr.RunBuilder:
    """A builder from the restricted preset's table with some lines changed.

    Only for the fields in :data:`NO_BUILDER_STEP`: every other sample uses a method.
    """
    assert set(changes) <= set(NO_BUILDER_STEP), f"use a builder method for {set(changes)}"
    name = str(changes.pop("preset", "restricted"))
    lines = tuple(
        sr.PresetLine(line.field, changes.get(line.field, line.value), line.reason)
        for line in PRESETS["restricted"].lines
    )
    return sr.Preset(name, "the restricted preset, one line changed", lines).builder(IMAGE)


#: Each init field: the builder with that field set to another valid value.
SAMPLES: dict[str, Step] = {
    "image": lambda b: b.image("alpine:3.19"),
    "preset": lambda _: restricted_with(preset="restricted-copy"),
    "command": lambda b: b.command(["echo", "hello"]),
    "entrypoint": lambda b: b.entrypoint(["/bin/sh", "-c"]),
    "env": lambda b: b.env(GREETING="hello"),
    "workdir": lambda b: b.workdir("/work"),
    "hostname": lambda b: b.hostname("box"),
    "name": lambda b: b.name("checklist-sample"),
    "labels": lambda b: b.labels(team="infra"),
    "user": lambda b: b.user(1000, 1000),
    "group_add": lambda b: b.group_add(1001),
    "cap_add": lambda b: b.cap_add("NET_BIND_SERVICE"),
    "cap_drop": lambda _: restricted_with(cap_drop=("ALL", "NET_RAW")),
    "privileged": lambda b: b.privileged(False),
    "devices": lambda b: b.device("/dev/fuse"),
    "memory": lambda b: b.memory("384m", reservation="256m", swap="512m"),
    "memory_reservation": lambda b: b.memory("512m", reservation="128m"),
    "memory_swap": lambda b: b.memory("512m", reservation="256m", swap="1g"),
    "cpus": lambda b: b.cpus(0.5),
    "cpu_quota": lambda b: b.cpu_quota(50_000),
    "cpu_period": lambda b: b.cpu_quota(100_000, 200_000),
    "cpu_shares": lambda b: b.cpu_shares(512),
    "cpuset": lambda b: b.cpuset("0"),
    "pids_limit": lambda b: b.pids_limit(64),
    "ulimits": lambda b: b.ulimit("nproc", 64),
    "read_only": lambda b: b.read_only(True),
    "tmpfs": lambda b: b.tmpfs("/scratch", "16m"),
    "mounts": lambda b: b.mount("data", "/data"),
    "workspace": lambda b: b.workspace("/workspace", "16m"),
    "network": lambda b: b.network("bridge"),
    "ports": lambda b: b.publish(8080),
    "pid_mode": lambda b: b.host_namespace("pid"),
    "ipc_mode": lambda b: b.host_namespace("ipc"),
    "uts_mode": lambda b: b.host_namespace("uts"),
    "userns_mode": lambda b: b.host_namespace("userns"),
    "seccomp": lambda b: b.seccomp("default"),
    "apparmor": lambda b: b.apparmor("docker-default"),
    "no_new_privileges": lambda b: b.no_new_privileges(True),
    "init": lambda b: b.init(True),
    "runtime": lambda b: b.runtime("runsc"),
    "restart": lambda b: b.restart("on-failure", 3),
    "healthcheck": lambda b: b.healthcheck(["true"]),
    "stop_timeout": lambda b: b.stop_timeout(5),
    "log_limits": lambda b: b.log_limits("1m", 2),
    "sysctls": lambda b: b.sysctl("net.ipv4.ip_unprivileged_port_start", 80),
    "opt_ins": lambda b: b.opt_in("root-user"),
}

#: Where a sample starts when not at BASE, so that it changes its field alone.
STARTS: dict[str, Step] = {
    # .cpu_quota() clears cpus: start from a quota.
    "cpu_quota": lambda b: b.cpu_quota(100_000),
    "cpu_period": lambda b: b.cpu_quota(100_000),
    "ports": lambda b: b.network("bridge"),
    # The opt-in granted first, so the sample changes the field and not opt_ins too.
    "devices": lambda b: b.opt_in("devices"),
    "pid_mode": lambda b: b.opt_in("host-namespace"),
    "ipc_mode": lambda b: b.opt_in("host-namespace"),
    "uts_mode": lambda b: b.opt_in("host-namespace"),
    "userns_mode": lambda b: b.opt_in("host-namespace"),
    # Verify refuses only a record weaker than the config: start on the weaker side,
    # and the sample takes the secure one.
    "privileged": lambda b: b.privileged().opt_in("privileged"),
    "read_only": lambda b: b.read_only(False).opt_in("writable-root"),
    "no_new_privileges": lambda b: b.no_new_privileges(False).opt_in("new-privileges"),
    "seccomp": lambda b: b.seccomp("unconfined").opt_in("seccomp-unconfined"),
    "init": lambda b: b.init(False),
}


def missing_samples(fields: Iterable[str]) -> set[str]:
    """The fields with no sample."""
    return set(fields) - set(SAMPLES)


@functools.cache
def pair(field: str) -> tuple[RunConfig, RunConfig]:
    """The config a field's sample starts from, and the one it makes."""
    if field not in SAMPLES:
        pytest.fail(f"{field}: no sample; add one to SAMPLES ('Adding a setting', architecture.md)")
    start = STARTS.get(field, lambda b: b)(BASE)
    return start.build(), SAMPLES[field](start).build()


def exported(cfg: RunConfig, exporter: str) -> str:
    """An exporter's output as text, the config digest (which every field changes) aside."""
    try:
        out = getattr(cfg, exporter)()
    except sr.ConfigError as exc:  # refusing a setting is noticing it
        return "refused: " + ", ".join(p.field for p in exc.problems)
    return json.dumps(out, sort_keys=True, default=repr).replace(cfg.digest(), "<digest>")


def failed_checks(cfg: RunConfig, record: RunConfig) -> list[str]:
    """The verify checks of the daemon's record that ``cfg`` fails on ``record``'s."""
    return [c.property for c in inspect_checks(cfg, config_inspect(record)) if not c.ok]


def audited(cfg: RunConfig) -> list[tuple[str, str, str]]:
    """The config audit's findings: id, status and evidence, the digest aside."""
    return [
        (f.id, str(f.status), f.evidence.replace(cfg.digest(), "<digest>"))
        for f in sr.audit_config(cfg).findings
    ]


def audit_concerns(field: str) -> bool:
    """Whether explain's table names a CIS or PSS control for the field."""
    return bool(CONTROLS.get(field))


# -- the builder ------------------------------------------------------------------------


def test_samples_cover_exactly_the_init_fields():
    """SAMPLES has one entry per init field of RunConfig, no more and no fewer."""
    assert missing_samples(INIT_FIELDS) == set()
    assert set(SAMPLES) <= set(INIT_FIELDS)


def test_a_planted_field_is_reported_without_a_sample():
    """The coverage check can fail: a field RunConfig does not have yet has no sample."""
    assert missing_samples([*INIT_FIELDS, "not_a_field_yet"]) == {"not_a_field_yet"}


@pytest.mark.parametrize("field", INIT_FIELDS)
def test_each_sample_changes_its_field_alone(field):
    """The sample builds, and its config differs from where it started in that field only."""
    start, changed = pair(field)
    assert [n for n in INIT_FIELDS if getattr(start, n) != getattr(changed, n)] == [field]


@pytest.mark.parametrize("field", sorted(NO_BUILDER_STEP))
def test_fields_without_a_builder_step_have_none(field):
    """No builder method sets the field: one named after it leaves it as it was."""
    start, changed = pair(field)
    method = getattr(BASE, field, None)
    if method is None:
        return
    value = getattr(changed, field)
    stepped = method(*value) if isinstance(value, tuple) else method(value)
    assert getattr(stepped.build(), field) == getattr(start, field)


# -- explain ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", INIT_FIELDS)
def test_every_field_has_a_setting_in_explain(field):
    """explain's SETTINGS table gives the field's reason and controls."""
    assert field in CONTROLS or field in NOT_EXPLAINED, f"add a Setting for {field} to SETTINGS"


@pytest.mark.parametrize("field", sorted(NOT_EXPLAINED))
def test_explain_exemptions_are_needed(field):
    """A field exempt from explain really has no Setting."""
    assert field not in CONTROLS


# -- the exporters ------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("field", [f for f in INIT_FIELDS if f not in NOT_EXPORTED])
def test_each_exporter_writes_each_field(field, exporter):
    """Changing the field changes the exporter's output (or makes it refuse the config)."""
    start, changed = pair(field)
    same = exported(changed, exporter) == exported(start, exporter)
    assert not same, f"{exporter}() ignores {field}: write it in _export/ (or NOT_EXPORTED)"


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("field", sorted(NOT_EXPORTED))
def test_export_exemptions_are_needed(field, exporter):
    """A field exempt from export really leaves the exporter's output as it was."""
    start, changed = pair(field)
    assert exported(changed, exporter) == exported(start, exporter)


# -- verify -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", INIT_FIELDS)
def test_each_start_passes_verify_on_its_own_record(field):
    """A sample's starting config passes every check of the record built from it."""
    start, _ = pair(field)
    assert failed_checks(start, start) == []


@pytest.mark.parametrize("field", [f for f in INIT_FIELDS if f not in NOT_VERIFIED])
def test_verify_notices_each_field(field):
    """verify fails the changed config on the record the engine keeps for the start."""
    start, changed = pair(field)
    assert failed_checks(changed, start), (
        f"verify ignores {field}: check it in _proof/inspect_checks.py (or NOT_VERIFIED)"
    )


@pytest.mark.parametrize("field", sorted(NOT_VERIFIED))
def test_verify_exemptions_are_needed(field):
    """A field exempt from verify really passes on the record of the config before it."""
    start, changed = pair(field)
    assert failed_checks(changed, start) == []


# -- the audit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", [f for f in INIT_FIELDS if audit_concerns(f) and f not in NOT_AUDITED]
)
def test_audit_notices_each_field_a_control_concerns(field):
    """A field whose Setting names a CIS or PSS control changes the config audit's findings."""
    start, changed = pair(field)
    assert audited(changed) != audited(start), (
        f"the audit ignores {field}: judge it in _audit/ (or NOT_AUDITED)"
    )


@pytest.mark.parametrize("field", sorted(NOT_AUDITED))
def test_audit_exemptions_are_needed(field):
    """A field exempt from the audit names a control, and leaves the findings as they were."""
    start, changed = pair(field)
    assert audit_concerns(field)
    assert audited(changed) == audited(start)


def test_every_exemption_names_a_field_and_gives_a_reason():
    """Each table's entries are RunConfig init fields, each with a reason."""
    for table in (NO_BUILDER_STEP, NOT_EXPLAINED, NOT_EXPORTED, NOT_VERIFIED, NOT_AUDITED):
        assert set(table) <= set(INIT_FIELDS)
        assert all(reason.strip() for reason in table.values())
