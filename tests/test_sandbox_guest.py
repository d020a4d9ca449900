"""Sandbox: the simulated guest (fallback commands, handler registry, agent model)."""

from __future__ import annotations

from collections.abc import Mapping

from fipswizard.sandbox.estate import bench_estate, demo_estate
from fipswizard.sandbox.guest_model import (
    CERTS_PEM,
    NO_HANDLER,
    RHEL9_DAEMON_MAIN,
    WAAGENT_CONF,
    SimGuest,
    script_handler,
    script_name,
)
from fipswizard.sandbox.os_images import make_guest


@script_handler("test-sandbox-distro", distros=("rhel",))
def _rhel(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    return 0, "rhel handler\n", ""


@script_handler("test-sandbox-distro")
def _any(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    return 0, "generic handler\n", ""


@script_handler("test-sandbox-crash")
def _crash(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    raise KeyError("boom")


def test_fallback_answers_cat_and_simple_commands() -> None:
    guest = make_guest("ubuntu-pro-fips-2204", fips=True)
    rc, out, err = guest.run_script(
        "set -eu\ncat /etc/os-release\ncat /proc/sys/crypto/fips_enabled\nuname -r\n", {}
    )
    assert rc == 0 and err == ""
    assert out.startswith('PRETTY_NAME="Ubuntu 22.04.5 LTS"')
    assert out.endswith("1\n5.15.0-1077-azure-fips\n")
    rc, out, err = guest.run_script("cat /etc/missing", {})
    assert rc == 1 and "No such file" in err
    rc, out, _ = guest.run_script("waagent --version", {})
    assert out.splitlines()[2] == "Goal state agent: 2.15.0.1"


def test_unknown_scripts_exit_127_without_running_anything() -> None:
    guest = make_guest("rhel-95")
    for script in ("cat /etc/os-release\nrm -rf /", "# fipswizard-script: no-such-handler\n"):
        rc, out, err = guest.run_script(script, {})
        assert rc == 127 and out == ""
        assert NO_HANDLER in err


def test_registry_prefers_the_distro_handler() -> None:
    script = "#!/bin/sh\n# fipswizard-script: test-sandbox-distro\necho hi\n"
    assert script_name(script) == "test-sandbox-distro"
    assert make_guest("rhel-94").run_script(script, {})[1] == "rhel handler\n"
    assert make_guest("alma-92").run_script(script, {})[1] == "generic handler\n"


def test_a_crashing_handler_is_reported_not_raised() -> None:
    rc, _, err = make_guest("alma-92").run_script("# fipswizard-script: test-sandbox-crash", {})
    assert rc == 1 and "crashed" in err and "boom" in err


def test_autoupdate_reads_and_writes_waagent_conf() -> None:
    guest = make_guest("flatcar-stable", daemon="2.12.0.4", autoupdate=False)
    assert guest.autoupdate is False
    guest.restart_agent()
    assert guest.goal_state_version == "2.12.0.4"
    guest.files[WAAGENT_CONF] = guest.files[WAAGENT_CONF].replace(
        "AutoUpdate.Enabled=n", "# AutoUpdate.Enabled=n"
    )
    assert guest.autoupdate is True  # commented out means the default, y
    guest.autoupdate = False
    assert "AutoUpdate.Enabled=n" in guest.files[WAAGENT_CONF]
    guest.autoupdate = True
    guest.boot()
    assert guest.goal_state_version == "2.15.0.1"


def test_rhel95_daemon_loop_and_both_workarounds() -> None:
    guest = make_guest("rhel-95", daemon="2.7.0.6", goal_state="2.15.0.1")
    assert guest.agent_ready()
    guest.fips_enabled = True
    assert not guest.agent_ready() and "2.7.0.6" in (guest.agent_problem() or "")
    guest.files[CERTS_PEM] = ""
    assert guest.agent_ready()
    del guest.files[CERTS_PEM]
    guest.files[RHEL9_DAEMON_MAIN] = guest.files[RHEL9_DAEMON_MAIN].replace(
        "        self._initialize_telemetry()", "        # self._initialize_telemetry()"
    )
    assert guest.agent_ready()


def test_boot_applies_pending_state() -> None:
    guest = make_guest("ubuntu-pro-2204")
    guest.pending_on_boot.update(fips_enabled=True, kernel=guest.extra["fips_kernel"])
    guest.shutdown()
    assert not guest.agent_ready()
    guest.boot()
    assert guest.fips_enabled and guest.kernel.endswith("-azure-fips")
    assert guest.pending_on_boot == {}


def test_demo_estate_matches_the_scenarios() -> None:
    estate = demo_estate()
    vms = estate.vms
    assert set(estate.scenarios) == {vm.name for vm in vms.values()}
    assert all(estate.scenarios.values())
    assert vms["ubuntu2204-fipsimage"].guest.fips_enabled
    assert vms["rhel94-app"].fips_flag and vms["rhel94-app"].cert_package == "fips-140-3"
    assert not vms["rhel96-notready"].guest.agent_ready()
    assert vms["flatcar-edge"].guest.goal_state_version == "2.12.0.4"
    assert vms["rhel95-db"].guest.daemon_version == "2.7.0.6"
    assert estate.unsupported_regions == {"mexicocentral"}
    assert vms["ubuntu2204-mexico"].location == "mexicocentral"
    assert vms["alma92-ledger"].guest.distro_id == "almalinux"
    # Guests never share mutable state.
    vms["ubuntu2204-web"].guest.extra["pro_attached"] = False
    assert vms["ubuntu2404-api"].guest.extra["pro_attached"] is True


def test_bench_estate() -> None:
    estate = bench_estate(3)
    assert sorted(estate.vms) == ["vm0001", "vm0002", "vm0003"]
    [sub] = estate.subscriptions.values()
    assert sub.features["microsoft.compute/optintofips1403compliance"].state == "Registered"
