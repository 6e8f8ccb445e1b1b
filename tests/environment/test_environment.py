"""Air-gap report (vault.environment) against fake sysfs/procfs trees built under tmp_path.

The trees are real files and directories laid out as the kernel does; nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vault.environment import AirGapReport, DefaultRoute, InterfaceUp, RadioDevice, airgap_report

ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
# The kernel's own IPv6 entries on lo: ::1/128 and the ::/0 reject route (not a way out).
IPV6_LO = (
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
)


def _iface(root: Path, name: str, operstate: str, flags: int) -> Path:
    d = root / "sys/class/net" / name
    d.mkdir(parents=True)
    (d / "operstate").write_text(operstate + "\n")
    (d / "flags").write_text(f"{flags:#x}\n")
    return d


def _clean(root: Path) -> Path:
    """A machine with only loopback up, eth0 down, no routes, IPv6 on."""
    _iface(root, "lo", "unknown", 0x9)
    _iface(root, "eth0", "down", 0x1002)
    (root / "proc/net").mkdir(parents=True)
    (root / "proc/net/route").write_text(ROUTE_HEADER)
    (root / "proc/net/ipv6_route").write_text(IPV6_LO)
    return root


def test_clean_machine_is_ok(tmp_path):
    report = airgap_report(_clean(tmp_path))
    assert report.ok
    assert report.problems() == []
    assert report == AirGapReport((), (), (), (), ())
    assert report.default_route is None


def test_interface_up_is_named(tmp_path):
    root = _clean(tmp_path)
    _iface(root, "eth1", "up", 0x1003)
    _iface(root, "enp3s0", "down", 0x1003)  # administratively up, no cable yet: still a finding
    report = airgap_report(root)
    assert not report.ok
    assert report.interfaces_up == (InterfaceUp("enp3s0", "down", True), InterfaceUp("eth1", "up", True))
    problems = report.problems()
    assert any("eth1 is up" in p and "ip link set eth1 down" in p for p in problems)


def test_ipv4_default_route(tmp_path):
    root = _clean(tmp_path)
    (root / "proc/net/route").write_text(
        ROUTE_HEADER
        + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        + "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    report = airgap_report(root)
    assert report.default_routes == (DefaultRoute("ipv4", "eth0", "192.0.2.1"),)
    assert report.default_route == DefaultRoute("ipv4", "eth0", "192.0.2.1")
    assert not report.ok
    assert any("IPv4 default route via 192.0.2.1 on eth0" in p for p in report.problems())


def test_ipv6_default_route(tmp_path):
    root = _clean(tmp_path)
    (root / "proc/net/ipv6_route").write_text(
        IPV6_LO
        + "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
    )
    report = airgap_report(root)
    assert report.default_routes == (DefaultRoute("ipv6", "eth0", "fd00::1"),)
    assert any("ip -6 route del default" in p for p in report.problems())


def test_wifi_and_bluetooth_present(tmp_path):
    root = _clean(tmp_path)
    (_iface(root, "wlan0", "down", 0x1002) / "wireless").mkdir()
    (root / "sys/class/ieee80211/phy0").mkdir(parents=True)
    (root / "sys/class/bluetooth/hci0").mkdir(parents=True)
    report = airgap_report(root)
    assert report.wireless == (RadioDevice("wireless", "wlan0"), RadioDevice("wireless", "phy0"))
    assert report.bluetooth == (RadioDevice("bluetooth", "hci0"),)
    assert report.interfaces_up == ()  # wlan0 is down but the radio is still a finding
    assert not report.ok
    text = " ".join(report.problems())
    assert "wlan0" in text and "phy0" in text and "hci0" in text and "rfkill" in text


def test_phy80211_link_marks_wireless(tmp_path):
    root = _clean(tmp_path)
    phy = root / "sys/class/ieee80211/phy1"
    phy.mkdir(parents=True)
    (_iface(root, "wlp2s0", "down", 0) / "phy80211").symlink_to(phy)
    assert RadioDevice("wireless", "wlp2s0") in airgap_report(root).wireless


def test_missing_ipv6_route_means_ipv6_disabled_and_is_fine(tmp_path):
    root = _clean(tmp_path)
    (root / "proc/net/ipv6_route").unlink()
    assert airgap_report(root).ok


def test_unreadable_sources_are_not_a_pass(tmp_path):
    report = airgap_report(tmp_path)  # empty tree: no sysfs, no procfs
    assert not report.ok
    assert report.unchecked == ("/sys/class/net", "/proc/net/route")
    assert all("could not be read" in p for p in report.problems())


def test_to_dict_is_json_safe(tmp_path):
    root = _clean(tmp_path)
    _iface(root, "eth1", "up", 0x1003)
    d = json.loads(json.dumps(airgap_report(root).to_dict()))
    assert d["ok"] is False
    assert d["interfaces_up"] == [{"name": "eth1", "operstate": "up", "admin_up": True}]
    assert d["problems"] and d["unchecked"] == []


def test_real_root_report_has_the_structure():
    """Only the shape: the result depends on the machine the tests run on."""
    if not Path("/sys/class/net").is_dir():
        pytest.skip("no sysfs on this machine")
    report = airgap_report()
    assert isinstance(report.ok, bool)
    assert all(isinstance(i, InterfaceUp) and i.name != "lo" for i in report.interfaces_up)
    assert all(r.family in ("ipv4", "ipv6") for r in report.default_routes)
    assert len(report.problems()) >= (0 if report.ok else 1)
    json.dumps(report.to_dict())
