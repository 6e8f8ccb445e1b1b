"""Air-gap report: what on this machine could reach a network.

Read-only and Linux-specific: everything comes from sysfs and procfs files, under ``root`` so that
tests (and an auditor checking a mounted image) can point it at another tree.

Findings:

* interfaces other than loopback that are up: ``operstate`` is ``up``, or the ``flags`` file has
  IFF_UP (0x1) set, i.e. the interface is administratively up even if no cable is plugged in yet;
* default routes: IPv4 ``/proc/net/route`` with destination and mask 00000000; IPv6
  ``/proc/net/ipv6_route`` with ``::/0`` on any device but ``lo`` (the kernel's ``lo`` reject
  route is not a way out) and without RTF_REJECT;
* wireless hardware: ``/sys/class/net/*/wireless`` or ``phy80211`` and ``/sys/class/ieee80211/*``
  (present at all counts, up or not);
* bluetooth controllers: ``/sys/class/bluetooth/*``.

If ``/sys/class/net`` or ``/proc/net/route`` cannot be read, the check is reported as unchecked
and the machine is not ``ok``: an air-gap check that could not look is not a pass. A missing
``/proc/net/ipv6_route`` means IPv6 is disabled, which is fine.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass
from pathlib import Path

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
RTF_REJECT = 0x0200


@dataclass(frozen=True, slots=True)
class InterfaceUp:
    name: str
    operstate: str  # as the kernel reports it: up, down, unknown, dormant...
    admin_up: bool  # IFF_UP in flags


@dataclass(frozen=True, slots=True)
class DefaultRoute:
    family: str  # "ipv4" | "ipv6"
    interface: str
    gateway: str  # "" when the route has no gateway (on-link)


@dataclass(frozen=True, slots=True)
class RadioDevice:
    kind: str  # "wireless" | "bluetooth"
    name: str  # interface (wlan0), phy (phy0) or controller (hci0)


@dataclass(frozen=True, slots=True)
class AirGapReport:
    interfaces_up: tuple[InterfaceUp, ...]
    default_routes: tuple[DefaultRoute, ...]
    wireless: tuple[RadioDevice, ...]
    bluetooth: tuple[RadioDevice, ...]
    unchecked: tuple[str, ...] = ()  # sources that could not be read (e.g. "/proc/net/route")

    @property
    def default_route(self) -> DefaultRoute | None:
        return self.default_routes[0] if self.default_routes else None

    @property
    def ok(self) -> bool:
        return not (self.interfaces_up or self.default_routes or self.wireless or self.bluetooth or self.unchecked)

    def problems(self) -> list[str]:
        """One sentence per finding: what was found and what to do about it."""
        out = []
        for i in self.interfaces_up:
            out.append(
                f"Network interface {i.name} is up (state {i.operstate}). "
                f"Unplug its cable and bring it down: ip link set {i.name} down."
            )
        for r in self.default_routes:
            via = f" via {r.gateway}" if r.gateway else ""
            label, flag = ("IPv6", "-6 ") if r.family == "ipv6" else ("IPv4", "")
            out.append(
                f"The machine has an {label} default route{via} on {r.interface}. "
                f"Remove it (ip {flag}route del default) and bring {r.interface} down."
            )
        for d in self.wireless:
            out.append(
                f"Wireless device {d.name} is present. Remove the card or disable it in firmware "
                "(at the least: rfkill block wifi)."
            )
        for d in self.bluetooth:
            out.append(
                f"Bluetooth controller {d.name} is present. Remove it or disable it in firmware "
                "(at the least: rfkill block bluetooth)."
            )
        for src in self.unchecked:
            out.append(
                f"{src} could not be read, so the network state is unknown. "
                "Check the machine by hand, or run the console where sysfs and procfs are mounted."
            )
        return out

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "interfaces_up": [asdict(i) for i in self.interfaces_up],
            "default_routes": [asdict(r) for r in self.default_routes],
            "wireless": [asdict(d) for d in self.wireless],
            "bluetooth": [asdict(d) for d in self.bluetooth],
            "unchecked": list(self.unchecked),
            "problems": self.problems(),
        }


def airgap_report(root: Path = Path("/")) -> AirGapReport:
    root = Path(root)
    unchecked: list[str] = []
    net = root / "sys/class/net"
    interfaces = _interfaces(net, unchecked)
    routes = _ipv4_default_routes(root / "proc/net/route", unchecked) + _ipv6_default_routes(
        root / "proc/net/ipv6_route"
    )
    return AirGapReport(
        interfaces_up=tuple(i for i in interfaces if i is not None),
        default_routes=tuple(routes),
        wireless=_wireless(net, root / "sys/class/ieee80211"),
        bluetooth=tuple(RadioDevice("bluetooth", n) for n in _names(root / "sys/class/bluetooth")),
        unchecked=tuple(unchecked),
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _names(directory: Path) -> list[str]:
    try:
        return sorted(p.name for p in directory.iterdir())
    except OSError:
        return []


def _interfaces(net: Path, unchecked: list[str]) -> list[InterfaceUp | None]:
    if not net.is_dir():
        unchecked.append("/sys/class/net")
        return []
    found: list[InterfaceUp | None] = []
    for name in _names(net):
        flags_text = _read(net / name / "flags")
        try:
            flags = int(flags_text, 16) if flags_text else 0
        except ValueError:
            flags = 0
        if name == "lo" or flags & IFF_LOOPBACK:
            continue
        operstate = _read(net / name / "operstate") or "unknown"
        admin_up = bool(flags & IFF_UP)
        if admin_up or operstate == "up":
            found.append(InterfaceUp(name, operstate, admin_up))
    return found


def _ipv4_default_routes(path: Path, unchecked: list[str]) -> list[DefaultRoute]:
    text = _read(path)
    if text is None:
        unchecked.append("/proc/net/route")
        return []
    routes = []
    for line in text.splitlines()[1:]:  # first line is the column header
        cols = line.split()
        if len(cols) < 8 or cols[1] != "00000000" or cols[7] != "00000000":
            continue
        try:
            gw_int = int(cols[2], 16)
        except ValueError:
            gw_int = 0
        # The kernel prints the address in host byte order (little-endian on x86/arm).
        gateway = str(ipaddress.IPv4Address(gw_int.to_bytes(4, "little"))) if gw_int else ""
        routes.append(DefaultRoute("ipv4", cols[0], gateway))
    return routes


def _ipv6_default_routes(path: Path) -> list[DefaultRoute]:
    text = _read(path)
    if text is None:
        return []  # no ipv6_route: IPv6 is disabled in this kernel
    routes = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 10 or cols[0] != "0" * 32 or cols[1] != "00":
            continue
        try:
            flags = int(cols[8], 16)
        except ValueError:
            flags = 0
        device = cols[9]
        if device == "lo" or flags & RTF_REJECT:
            continue
        nexthop = cols[4]
        gateway = str(ipaddress.IPv6Address(bytes.fromhex(nexthop))) if int(nexthop, 16) else ""
        routes.append(DefaultRoute("ipv6", device, gateway))
    return routes


def _wireless(net: Path, ieee80211: Path) -> tuple[RadioDevice, ...]:
    found = [
        RadioDevice("wireless", name)
        for name in _names(net)
        if os.path.lexists(net / name / "wireless") or os.path.lexists(net / name / "phy80211")
    ]
    found += [RadioDevice("wireless", phy) for phy in _names(ieee80211)]
    return tuple(found)
