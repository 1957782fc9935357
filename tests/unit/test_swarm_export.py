"""RunConfig.to_swarm(): every field mapped to the service spec or refused, by Engine API."""

from __future__ import annotations

import pytest
from test_field_checklist import SAMPLES, STARTS, pair

import secure_run as sr
from secure_run._export.swarm import MIN_API, NEVER, service_request

SWARM_OPT_INS = ("swarm-daemon-nnp", "swarm-default-swap")
#: Fields that change no part of the spec but the config digest label, and why.
LABEL_ONLY = {
    "preset": "a name: written in the io.secure-run.preset label",
    "opt_ins": "a grant: the opt-ins used are in the io.secure-run.opt-ins label",
    "privileged": "the sample sets the secure side (False), which a service has by default",
    "seccomp": "the default profile: what every task gets on its node",
}


def spec(cfg: sr.RunConfig, api: str = "1.44") -> str:
    """The low-level create_service request as text, or the refused fields."""
    try:
        kw = cfg.to_swarm(api_version=api, opt_ins=SWARM_OPT_INS)
    except sr.UnsupportedFeature as exc:
        return "refused: " + ", ".join(sorted(p.field for p in exc.problems))
    return repr(service_request(kw)).replace(cfg.digest(), "<digest>")


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_each_field_is_mapped_or_refused(field):
    """Changing a field changes the service request, or the export refuses it by name."""
    start, changed = pair(field)
    if field in LABEL_ONLY:
        assert spec(changed) == spec(start) or "<digest>" in spec(changed)
        return
    before, after = spec(start), spec(changed)
    if after.startswith("refused"):
        assert field in after.split(": ", 1)[1].split(", ")
    else:
        assert before != after, f"to_swarm() ignores {field}"


@pytest.mark.parametrize("field", sorted(NEVER))
def test_settings_no_service_carries_are_refused_by_name(field):
    """A setting with no service field at any API is refused with UnsupportedFeature naming it."""
    _, changed = pair(field)
    if getattr(changed, field) in (None, False, ()):
        pytest.skip("the sample sets the secure side")
    with pytest.raises(sr.UnsupportedFeature) as caught:
        changed.to_swarm(api_version="1.52", opt_ins=SWARM_OPT_INS)
    assert field in [p.field for p in caught.value.problems]


@pytest.mark.parametrize("field", sorted(f for f, (_, v) in MIN_API.items() if v > "1.24"))
def test_a_field_is_refused_below_its_api_version(field):
    """Below the version that has the field, a set field is refused naming the version."""
    _, minimum = MIN_API[field]
    _, changed = pair(field) if field in SAMPLES else (None, None)
    older = f"1.{int(minimum.split('.')[1]) - 1}"
    try:
        changed.to_swarm(api_version=older, opt_ins=SWARM_OPT_INS)
    except sr.UnsupportedFeature as exc:
        problems = [p for p in exc.problems if p.field == field]
        if problems:
            assert minimum in problems[0].message
            return
    pytest.skip(f"the {field} sample sets nothing a service needs the field for")


def test_no_new_privileges_at_141_needs_the_daemon_opt_in():
    """At API 1.41 no-new-privileges is refused, unless swarm-daemon-nnp states the nodes do it."""
    cfg = sr.preset("sandbox", "busybox").build()
    with pytest.raises(sr.UnsupportedFeature) as caught:
        cfg.to_swarm(opt_ins=["swarm-default-swap"])
    (problem,) = caught.value.problems
    assert problem.field == "no_new_privileges"
    assert "1.44" in problem.message
    assert "--no-new-privileges" in problem.fix
    kw = cfg.to_swarm(opt_ins=SWARM_OPT_INS)
    assert "swarm-daemon-nnp" in kw["labels"]["io.secure-run.opt-ins"]
    assert "privileges" not in kw


def test_no_new_privileges_at_144_is_in_the_spec():
    """At API 1.44 the spec carries Privileges.NoNewPrivileges and the seccomp mode."""
    kw = sr.preset("sandbox", "busybox").build().to_swarm(api_version="1.44", opt_ins=SWARM_OPT_INS)
    assert kw["privileges"]["NoNewPrivileges"] is True
    assert kw["privileges"]["Seccomp"] == {"Mode": "default"}


def test_restart_policy_is_always_sent():
    """No restart in the config is sent as condition none, never left to swarmkit's 'any'."""
    kw = sr.preset("sandbox", "busybox").build().to_swarm(opt_ins=SWARM_OPT_INS)
    assert kw["restart_policy"]["Condition"] == "none"


def test_raw_fields_land_in_the_request():
    """The pids limit and ulimits, which docker-py has no keyword for, are in the request."""
    cfg = sr.preset("sandbox", "busybox").build()
    request = service_request(cfg.to_swarm(opt_ins=SWARM_OPT_INS))
    template = request["task_template"]
    assert template["Resources"]["Limits"]["Pids"] == cfg.pids_limit
    assert {u["Name"] for u in template["ContainerSpec"]["Ulimits"]} == {"core", "nofile"}


def test_memory_reservation_is_the_schedulers():
    """The reservation becomes Resources.Reservations.MemoryBytes."""
    cfg = sr.preset("sandbox", "busybox").build()
    kw = cfg.to_swarm(opt_ins=SWARM_OPT_INS)
    assert kw["resources"]["Reservations"]["MemoryBytes"] == cfg.memory_reservation


def test_network_none_is_an_isolated_overlay():
    """network none names the service's own internal overlay."""
    kw = sr.preset("sandbox", "busybox").build().to_swarm(name="job", opt_ins=SWARM_OPT_INS)
    assert kw["networks"] == ["secure-run-none-job"]


def test_docker_py_refuses_the_extra_key():
    """services.create cannot silently drop the ulimits: docker-py refuses the extra key."""
    from docker.models.services import _get_create_service_kwargs

    kw = sr.preset("sandbox", "busybox").build().to_swarm(opt_ins=SWARM_OPT_INS)
    with pytest.raises(TypeError):
        _get_create_service_kwargs("create", dict(kw))


assert STARTS  # the samples' starting points are used through pair()


def _sandbox(*steps: str) -> sr.RunBuilder:
    return sr.preset("sandbox", "busybox").opt_in(*steps)


PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
}


#: (what, config, the field refused, the first API that carries it, the opt-in that
#: carries it below that API or None, words of the alternative in the fix).
GATED = [
    ("no-new-privileges", _sandbox(), "no_new_privileges", "1.44", "swarm-daemon-nnp",
     "--no-new-privileges"),
    ("seccomp unconfined", _sandbox("seccomp-unconfined").seccomp("unconfined"), "seccomp",
     "1.44", None, "keep the default profile"),
    ("a custom seccomp profile", _sandbox().seccomp(PROFILE),
     "seccomp", "1.44", None, "keep the default profile"),
    ("apparmor unconfined", _sandbox("apparmor-unconfined").apparmor("unconfined"), "apparmor",
     "1.44", None, "docker-default"),
    ("no swap (swap = memory)", _sandbox(), "memory_swap", "1.52", "swarm-default-swap",
     "node's default swap"),
    ("cap_drop ALL", _sandbox(), "cap_drop", "1.41", None, "API 1.41 or later"),
    ("a pids limit", _sandbox(), "pids_limit", "1.41", None, "API 1.41 or later"),
    ("ulimits", _sandbox(), "ulimits", "1.41", None, "API 1.41 or later"),
]  # fmt: skip


def _below(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) - 1}"


@pytest.mark.parametrize(("what", "builder", "field", "minimum", "opt_in", "alternative"),
                         GATED, ids=[g[0] for g in GATED])  # fmt: skip
def test_each_gated_setting_is_refused_below_its_api_naming_it(
    what, builder, field, minimum, opt_in, alternative
):
    """Below its API a setting is refused with the field, the API that carries it, and the fix."""
    cfg = builder.build()
    others = [o for o in SWARM_OPT_INS if o != opt_in]  # every other opt-in granted
    with pytest.raises(sr.UnsupportedFeature) as caught:
        cfg.to_swarm(api_version=_below(minimum), opt_ins=others)
    (problem,) = [p for p in caught.value.problems if p.field == field]
    assert f"API {minimum}" in problem.message
    assert alternative in problem.fix
    if opt_in is not None:  # the opt-in carries it below the API, and is recorded
        kw = cfg.to_swarm(api_version=_below(minimum), opt_ins=[*others, opt_in])
        assert opt_in in kw["labels"]["io.secure-run.opt-ins"].split(",")
        assert opt_in in problem.fix
    assert field not in {p.field for p in _refusals(cfg, minimum)}  # from its API: in the spec


def _refusals(cfg: sr.RunConfig, api: str) -> list[sr.Problem]:
    try:
        cfg.to_swarm(api_version=api, opt_ins=SWARM_OPT_INS)
    except sr.UnsupportedFeature as exc:
        return list(exc.problems)
    return []


def test_the_144_privileges_are_written_as_the_config_says():
    """From API 1.44 the spec carries NoNewPrivileges, the seccomp mode or profile, AppArmor off."""
    unconfined = _sandbox("seccomp-unconfined", "apparmor-unconfined")
    cfg = unconfined.seccomp("unconfined").apparmor("unconfined").build()
    privileges = cfg.to_swarm(api_version="1.44", opt_ins=SWARM_OPT_INS)["privileges"]
    assert privileges["NoNewPrivileges"] is True
    assert privileges["Seccomp"] == {"Mode": "unconfined"}
    assert privileges["AppArmor"] == {"Mode": "disabled"}
    custom = _sandbox().seccomp(PROFILE).build()
    seccomp = custom.to_swarm(api_version="1.44", opt_ins=SWARM_OPT_INS)["privileges"]["Seccomp"]
    assert seccomp["Mode"] == "custom"
    assert '"SCMP_ACT_ERRNO"' in seccomp["Profile"]


def test_no_swap_from_152_is_swap_bytes_zero():
    """From API 1.52 'no swap' is Resources.SwapBytes 0, with no opt-in relied on."""
    cfg = _sandbox().build()
    kw = cfg.to_swarm(api_version="1.52", opt_ins=["swarm-daemon-nnp"])
    assert kw["resources"]["SwapBytes"] == 0
    assert "swarm-default-swap" not in kw["labels"].get("io.secure-run.opt-ins", "")


class _NoDaemon:
    """A client any use of which fails the test: arguments are checked before a call."""

    def __getattr__(self, name: str) -> object:
        pytest.fail(f"the daemon was called ({name}) before the arguments were checked")


BAD_ARGUMENTS = [
    ({"name": "bad.name"}, "name", "'bad.name'", "'-' or '_' only between them"),
    ({"name": "x" * 64}, "name", "'" + "x" * 64 + "'", "at most 63 characters"),
    ({"replicas": -1}, "replicas", "-1", "0 or more"),
    ({"replicas": True}, "replicas", "True", "whole number"),
    ({"replicas": "3"}, "replicas", "'3'", "whole number"),
    ({"max_per_node": 0}, "max_per_node", "0", "1 or more"),
    ({"constraints": ["node.role"]}, "constraints", "'node.role'", "'node.role==worker'"),
    ({"preferences": [("pack", "node.id")]}, "preferences", "('pack', 'node.id')", "'spread'"),
    ({"opt_ins": ["seccomp-unconfined"]}, "opt_ins", "'seccomp-unconfined'", ".opt_in()"),
    ({"opt_ins": ["nope"]}, "opt_ins", "'nope'", "'swarm-daemon-nnp' or 'swarm-default-swap'"),
]  # fmt: skip


@pytest.mark.parametrize(("kw", "field", "value", "fix"), BAD_ARGUMENTS,
                         ids=[f"{a[1]}={a[2]}"[:40] for a in BAD_ARGUMENTS])  # fmt: skip
def test_a_bad_argument_is_a_config_error_before_the_daemon(kw, field, value, fix):
    """sr.service() names the argument, its value and the fix, and calls no daemon."""
    cfg = _sandbox().build()
    kw = {"opt_ins": SWARM_OPT_INS, **kw}
    with pytest.raises(sr.ConfigError) as caught:
        sr.service(cfg, client=_NoDaemon(), **kw)  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert (problem.field, problem.value) == (field, value)
    assert fix in problem.fix


def test_every_bad_argument_is_reported_at_once():
    """Several bad arguments give one ConfigError listing each; to_swarm checks them too."""
    cfg = _sandbox().build()
    with pytest.raises(sr.ConfigError) as caught:
        cfg.to_swarm(api_version="banana", name="a b", replicas=-2, opt_ins=["nope"])
    fields = [p.field for p in caught.value.problems]
    assert fields == ["api_version", "opt_ins", "name", "replicas"]


def test_a_config_name_the_manager_would_refuse_is_caught():
    """With no name= the config's own name is the service's, and is checked as one."""
    cfg = _sandbox().name("job.1").build()
    with pytest.raises(sr.ConfigError, match=r"name='job\.1'"):
        cfg.to_swarm(opt_ins=SWARM_OPT_INS)
    assert cfg.to_swarm(name="job-1", opt_ins=SWARM_OPT_INS)["name"] == "job-1"


@pytest.mark.parametrize("name", ["a", "a_b", "A-b", "a__b", "1a", "x" * 63])
def test_names_the_manager_takes_are_accepted(name):
    """The names a 20.10 manager took (tried on the test swarm) pass the check."""
    assert _sandbox().build().to_swarm(name=name, opt_ins=SWARM_OPT_INS)["name"] == name
