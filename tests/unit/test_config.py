"""RunConfig: frozen, hashable, compared by value, validated on every change, stable digest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import secure_run as sr
from secure_run import OptIn

IMAGE = "busybox:1.36"
VALID = sr.builder(IMAGE).build()

#: A config with every collection filled, built the same way here and in a subprocess.
RICH_SOURCE = """
import secure_run as sr
cfg = (
    sr.preset("service", "registry.example.com:5000/team/app:1.2")
    .command(["serve", "--port", "8080"])
    .entrypoint(["/bin/app"])
    .env(B="2", A="1")
    .labels(team="infra")
    .group_add(7, 5)
    .cap_add("chown")
    .device("/dev/fuse")
    .ulimit("nproc", 100, 200)
    .tmpfs("/run", "8m")
    .mount("/srv/data", "/data")
    .publish(8080, 18080)
    .sysctl("net.ipv4.tcp_syncookies", 1)
    .seccomp({"defaultAction": "SCMP_ACT_ERRNO",
              "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    .healthcheck(["true"])
    .opt_in("devices", "extra-capability", "root-user")
    .build()
)
"""


def _rich() -> sr.RunConfig:
    namespace: dict[str, object] = {}
    exec(RICH_SOURCE, namespace)  # noqa: S102 - our own fixed source, shared with the subprocess
    cfg = namespace["cfg"]
    assert isinstance(cfg, sr.RunConfig)
    return cfg


RICH = _rich()


def test_assignment_raises_frozen_instance_error():
    """Setting a field of a RunConfig raises FrozenInstanceError."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        VALID.privileged = True  # type: ignore[misc]


def test_deleting_a_field_raises_frozen_instance_error():
    """Deleting a field of a RunConfig raises FrozenInstanceError."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del VALID.memory  # type: ignore[misc]


def test_configs_are_hashable_and_usable_as_keys():
    """Equal configs hash alike, so a set of two equal configs has one member."""
    assert len({RICH, _rich(), VALID}) == 2


def test_configs_are_equal_by_value():
    """Two configs built separately from the same settings are equal but distinct objects."""
    other = _rich()
    assert other == RICH
    assert other is not RICH


def test_configs_with_different_values_are_not_equal():
    """Changing one setting gives an unequal config."""
    assert sr.builder(IMAGE).pids_limit(64).build() != VALID


@pytest.mark.parametrize(
    "field",
    [
        "command",
        "entrypoint",
        "env",
        "labels",
        "group_add",
        "cap_add",
        "cap_drop",
        "devices",
        "ulimits",
        "tmpfs",
        "mounts",
        "ports",
        "sysctls",
        "opt_ins",
    ],
)
def test_collections_are_tuples(field):
    """Every collection a config holds is a tuple, so nothing inside can change."""
    value = getattr(RICH, field)
    assert isinstance(value, tuple)
    assert value, f"{field} should be filled in RICH"


def test_mappings_become_sorted_pairs():
    """Environment, labels and sysctls are stored as sorted (key, value) pairs."""
    assert RICH.env == (("A", "1"), ("B", "2"))


def test_lists_given_to_evolve_become_tuples():
    """Lists passed through attrs.evolve are converted to tuples as well."""
    cfg = attrs.evolve(
        VALID, command=["id"], cap_add=["CHOWN"], group_add=[5], opt_ins=["extra-capability"]
    )
    assert (cfg.command, cfg.cap_add, cfg.group_add) == (("id",), ("CHOWN",), (5,))


def test_environment_property_is_a_fresh_copy():
    """Mutating the dict from ``environment`` does not change the config."""
    env = RICH.environment
    env["A"] = "changed"
    assert RICH.environment["A"] == "1"


@pytest.mark.parametrize(
    "changes",
    [
        {"privileged": True},
        {"user": None},
        {"cap_drop": ()},
        {"read_only": False},
        {"memory": 1},
        {"network": "host"},
    ],
)
def test_evolve_cannot_bypass_validation(changes):
    """attrs.evolve validates again: a weaker or invalid change raises ConfigError."""
    with pytest.raises(sr.ConfigError):
        attrs.evolve(VALID, **changes)


def test_evolve_with_the_opt_in_works():
    """attrs.evolve accepts a weaker setting when its opt-in is in the same change."""
    cfg = attrs.evolve(VALID, privileged=True, opt_ins=("privileged",))
    assert cfg.privileged
    assert cfg.waivers() == (OptIn.PRIVILEGED,)


def test_direct_construction_with_defaults_is_refused():
    """RunConfig(image=...) alone is refused: the field defaults are Docker's, not secure."""
    with pytest.raises(sr.ConfigError) as excinfo:
        sr.RunConfig(image=IMAGE)
    fields = {p.field for p in excinfo.value.problems}
    assert {"user", "cap_drop", "memory", "pids_limit", "read_only", "no_new_privileges"} <= fields


def test_opt_ins_are_deduplicated_and_sorted():
    """Granting an opt-in twice, in any order, stores each once in name order."""
    cfg = sr.builder(IMAGE).opt_in("root-user", "devices").opt_in("root-user").build()
    assert cfg.opt_ins == (OptIn.DEVICES, OptIn.ROOT_USER)


def test_waivers_are_only_the_opt_ins_relied_on():
    """waivers() lists the granted opt-ins the config needs, not those merely granted."""
    assert RICH.waivers() == (OptIn.DEVICES, OptIn.EXTRA_CAPABILITY)


# -- digest --------------------------------------------------------------------

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def test_digest_has_the_sha256_form():
    """The digest is ``sha256:`` and 64 lowercase hex digits."""
    assert DIGEST.fullmatch(RICH.digest())


def test_digest_is_the_same_for_equal_configs():
    """Two equal configs have the same digest."""
    assert _rich().digest() == RICH.digest()


def test_digest_is_the_same_in_another_process():
    """A fresh interpreter with another hash seed computes the same digest for the same config."""
    root = Path(sr.__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["PYTHONHASHSEED"] = "12345"
    result = subprocess.run(
        [sys.executable, "-c", RICH_SOURCE + "\nprint(cfg.digest())"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == RICH.digest()


@pytest.mark.parametrize(
    "changes",
    [
        {"image": "busybox:1.37"},
        {"command": ("serve",)},
        {"entrypoint": None},
        {"env": (("A", "1"), ("B", "3"))},
        {"labels": ()},
        {"user": sr.User(1000, 1000)},
        {"group_add": (5,)},
        {"cap_add": ("CHOWN",)},
        {"memory": 2 << 30, "memory_swap": 2 << 30},
        {"memory_reservation": 256 << 20},
        {"cpus": 1.5},
        {"pids_limit": 511},
        {"ulimits": ()},
        {"read_only": False, "opt_ins": ("devices", "extra-capability", "writable-root")},
        {"tmpfs": ()},
        {"mounts": ()},
        {"ports": ()},
        {"sysctls": ()},
        {"seccomp": sr.Seccomp()},
        {"init": False},
        {"restart": None},
        {"healthcheck": None},
        {"log_limits": None},
        {"opt_ins": ("devices", "extra-capability", "privileged")},
        {"preset": None},
    ],
    ids=lambda changes: "+".join(changes),
)
def test_digest_changes_when_a_setting_changes(changes):
    """Any change to a setting gives a different digest."""
    assert attrs.evolve(RICH, **changes).digest() != RICH.digest()
