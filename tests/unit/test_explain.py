"""explain(): each setting's value, the reason for it, and the controls it meets."""

from __future__ import annotations

import attrs
import pytest

import secure_run as sr
from secure_run._config.explain import SETTINGS, render
from secure_run._config.presets import PRESETS

IMAGE = "busybox:1.36"
ENV_VALUE = "hunter2-s3cr3t-value"
GENERAL = {s.field: s.why for s in SETTINGS}


def by_setting(cfg: sr.RunConfig) -> dict[str, sr.Explanation]:
    return {e.setting: e for e in cfg.explain()}


def preset_reason(preset: str, field: str) -> str:
    (line,) = [line for line in PRESETS[preset].lines if line.field == field]
    return line.reason


def test_explain_gives_value_why_and_controls_for_each_setting():
    """Each explanation holds the setting's rendered value, its reason and its table controls."""
    cfg = sr.builder(IMAGE).build()
    explanations = cfg.explain()
    assert [e.setting for e in explanations] == [
        s.field for s in SETTINGS if getattr(cfg, s.field) not in (None, (), False) or s.controls
    ]
    table = {s.field: s for s in SETTINGS}
    for e in explanations:
        assert isinstance(e, sr.Explanation)
        assert e.value == render(e.setting, getattr(cfg, e.setting))
        assert e.controls == table[e.setting].controls
        reasons = {line.field: line.reason for line in PRESETS["restricted"].lines}
        assert e.why == reasons.get(e.setting, table[e.setting].why)


def test_explain_renders_the_restricted_preset_values():
    """The restricted preset's key values read as a person would write them."""
    e = by_setting(sr.builder(IMAGE).build())
    assert e["memory"].value == "512 MiB"
    assert e["memory_swap"].value == "512 MiB"
    assert e["cpus"].value == "1.0"
    assert e["pids_limit"].value == "128"
    assert e["user"].value == "65534:65534"
    assert e["read_only"].value == "yes"
    assert e["network"].value == "none"
    assert e["cap_drop"].value == "ALL"
    assert e["cap_add"].value == "none"
    assert e["tmpfs"].value == "/tmp (64 MiB, size=67108864,mode=1777,noexec,nosuid,nodev)"
    assert e["memory"].controls == ("CIS 5.11",)
    assert e["memory"].why == preset_reason("restricted", "memory")


def test_explain_covers_only_real_fields_once():
    """Each explanation names a RunConfig field, and no field is explained twice."""
    settings = [e.setting for e in sr.preset("service", IMAGE).build().explain()]
    assert len(settings) == len(set(settings))
    assert set(settings) <= {a.name for a in attrs.fields(sr.RunConfig)}


def test_settings_table_names_every_config_field():
    """The reasons table has one entry for each RunConfig setting except the preset name."""
    fields = {a.name for a in attrs.fields(sr.RunConfig) if a.init}
    assert set(GENERAL) == fields - {"preset"}


@pytest.mark.parametrize(
    ("setting", "control"),
    [
        ("memory", "CIS 5.11"),
        ("memory_swap", "CIS 5.11"),
        ("cpus", "CIS 5.12"),
        ("pids_limit", "CIS 5.29"),
        ("read_only", "CIS 5.13"),
        ("no_new_privileges", "CIS 5.26"),
        ("cap_drop", "CIS 5.4"),
        ("cap_add", "CIS 5.4"),
        ("privileged", "CIS 5.5"),
        ("seccomp", "CIS 5.22"),
        ("network", "CIS 5.10"),
    ],
)
def test_explain_names_the_cis_control(setting, control):
    """Each hardened setting cites the CIS Docker Benchmark section 5 control it meets."""
    assert control in by_setting(sr.builder(IMAGE).build())[setting].controls


@pytest.mark.parametrize(
    ("preset", "field"),
    [
        ("restricted", "memory"),
        ("restricted", "read_only"),
        ("sandbox", "network"),
        ("service", "restart"),
        ("baseline", "cap_add"),
        ("restricted", "user"),
    ],
)
def test_unchanged_setting_gives_the_presets_reason(preset, field):
    """A setting still at the preset's value is explained with the preset's reason."""
    why = by_setting(sr.preset(preset, IMAGE).build())[field].why
    assert why == preset_reason(preset, field)
    assert why != GENERAL[field]


@pytest.mark.parametrize(
    ("builder", "field"),
    [
        (sr.builder(IMAGE).memory("256m"), "memory"),
        (sr.builder(IMAGE).pids_limit(64), "pids_limit"),
        (sr.builder(IMAGE).network("bridge"), "network"),
        (sr.builder(IMAGE).user(1000), "user"),
        (sr.builder(IMAGE).cap_add("CHOWN").opt_in("extra-capability"), "cap_add"),
        (sr.preset("service", IMAGE).restart("on-failure", 3), "restart"),
    ],
    ids=["memory", "pids_limit", "network", "user", "cap_add", "restart"],
)
def test_changed_setting_gives_the_general_reason(builder, field):
    """Once a setting differs from the preset's value, the general reason is given."""
    assert by_setting(builder.build())[field].why == GENERAL[field]


def test_changing_one_setting_keeps_the_presets_reason_for_the_others():
    """Changing memory leaves read_only explained by the preset."""
    explained = by_setting(sr.builder(IMAGE).memory("256m").build())
    assert explained["read_only"].why == preset_reason("restricted", "read_only")


@pytest.mark.parametrize(
    ("builder", "field", "value"),
    [
        (sr.builder(IMAGE), "memory", "512 MiB"),
        (sr.builder(IMAGE), "log_limits", "10 MiB x 3 files"),
        (sr.builder(IMAGE), "read_only", "yes"),
        (sr.builder(IMAGE), "cap_add", "none"),
        (sr.builder(IMAGE).memory(None).opt_in("unlimited-memory"), "memory", "unlimited"),
        (sr.builder(IMAGE).memory("256m", swap=-1).opt_in("unlimited-memory"), "memory_swap",
         "unlimited"),
        (sr.builder(IMAGE).memory(6 * 2**20 + 1, reservation=None), "memory", "6291457 B"),
    ],
    ids=["memory", "log_limits", "bool", "empty", "unlimited", "swap-unlimited", "odd-bytes"],
)  # fmt: skip
def test_explain_renders_values_for_people(builder, field, value):
    """Sizes are shown in binary units, booleans as yes/no, empty collections as none."""
    assert by_setting(builder.build())[field].value == value


def test_explain_never_shows_env_values():
    """Environment values are masked in explain(); the names are shown."""
    explained = sr.preset("sandbox", IMAGE).env(TOKEN=ENV_VALUE).build().explain()
    assert not any(ENV_VALUE in e.value or ENV_VALUE in e.why for e in explained)
    assert "TOKEN=***" in by_setting(sr.builder(IMAGE).env(TOKEN=ENV_VALUE).build())["env"].value


def test_explain_skips_unset_settings_without_controls():
    """Unset settings that meet no control (e.g. command, workdir) are left out."""
    settings = {e.setting for e in sr.builder(IMAGE).build().explain()}
    assert not {"command", "entrypoint", "workdir", "hostname", "name"} & settings


def test_explain_includes_a_setting_once_it_is_set():
    """A setting without controls is explained once it has a value."""
    assert by_setting(sr.builder(IMAGE).command(["id"]).build())["command"].value == "id"
