"""Which webhook destinations crmapi may call: URL syntax at registration, addresses at send.

Two checks, one policy:
- ``check_url`` (registration, every mode): an http(s) URL with a host, no whitespace or
  control characters (a CRLF would split the request line), no credentials, a valid port; the
  host, when it is an address in any spelling (``2130706433``, ``0x7f000001``, ``127.1``,
  ``[::ffff:127.0.0.1]``), or a name it resolves to in production mode, must be allowed.
- ``pin`` (send time): resolve the host once, refuse the delivery if any address is not
  allowed, and return the address the connection must go to. The sender connects to exactly
  that address (with the URL's ``Host``), so a name that re-resolves somewhere else between
  the check and the connection (DNS rebinding) is never followed.

Production mode refuses loopback, private, shared (CGNAT), link-local, multicast, unspecified,
reserved and cloud metadata addresses. Emulator mode (the default) allows loopback and private
networks, where local receivers and test sinks live, and refuses the rest.
``CRMAPI_WEBHOOK_ALLOW`` networks are allowed in both modes.
"""

import functools
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from crmapi.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

INVALID = "Enter a valid URL."
NOT_ALLOWED = "This URL points to an address webhooks may not be sent to."

# Cloud metadata services (AWS, ECS, GCP, Azure, Oracle share 169.254.169.254; Alibaba uses
# 100.100.100.200; AWS's IPv6 endpoint is fd00:ec2::254): never a subscriber, in any mode.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.170.2",
        "169.254.170.23",
        "100.100.100.200",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)
SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT: not the Internet
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still routed inside some networks
NAT64 = ipaddress.ip_network("64:ff9b::/96")
BROADCAST = ipaddress.ip_address("255.255.255.255")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
# Host names that are loopback by definition (RFC 6761), whatever a resolver says.
LOCAL_NAMES = re.compile(r"^(localhost|localhost\.localdomain)\.?$|\.localhost\.?$")
# What a DNS name may contain once IDNA-encoded (underscores occur in real records).
HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u3000\\]")


class UrlRefused(ValueError):
    """The URL may not be used; the message is what the client is told."""


@dataclass(frozen=True)
class Target:
    """A checked URL, split into what the sender needs."""

    scheme: str
    host: str  # IDNA-encoded name or address text, without brackets
    port: int
    host_header: str  # the URL's authority, sent as ``Host``
    path: str  # path and query, at least "/"


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (numeric spellings included, as the C library reads
    them: ``127.1`` and ``2130706433`` are 127.0.0.1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_v4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, IPv4-compatible)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 0xFFFF:  # ::a.b.c.d (deprecated form)
        return ipaddress.IPv4Address(int(address))
    return None


def _never(address: Address) -> bool:
    """Addresses no webhook subscriber has, in any mode."""
    return (
        address in METADATA
        or address.is_unspecified
        or address.is_multicast
        or address.is_link_local
        or address.is_reserved
        or address == BROADCAST
        or (isinstance(address, ipaddress.IPv4Address) and address.packed[0] == 0)
    )


def _internal(address: Address) -> bool:
    """Addresses of this machine or its private networks (refused in production mode)."""
    return (
        address.is_loopback
        or address.is_private
        or address in SHARED
        or (isinstance(address, ipaddress.IPv6Address) and address in SITE_LOCAL)
    )


@dataclass(frozen=True)
class UrlPolicy:
    production: bool = False
    allowed: tuple[Network, ...] = ()
    resolver: Resolver = field(default=resolve, compare=False)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "UrlPolicy":
        return _policy(settings.mode, settings.webhook_allowed_networks)

    def allows(self, address: Address) -> bool:
        if any(address in net for net in self.allowed if address.version == net.version):
            return True
        inner = _embedded_v4(address)
        if inner is not None:  # ::ffff:127.0.0.1 is 127.0.0.1, whatever its spelling
            return self.allows(inner)
        if address.is_loopback:  # before _never: ::1 sits in IPv6's reserved ::/8
            return not self.production
        if _never(address):
            return False
        return not (self.production and _internal(address))

    def check_url(self, url: str) -> Target:
        """The registration check: raises ``UrlRefused`` with the client's message.

        In production mode a name is resolved now too; one that does not resolve yet is
        accepted, since every send checks it again."""
        target, addresses = self._addresses(url, strict=False)
        if not all(self.allows(a) for a in addresses):
            raise UrlRefused(NOT_ALLOWED)
        return target

    def pin(self, url: str) -> tuple[Target, str]:
        """The send-time check: the target and the one address to connect to (the name is
        resolved exactly once here, so what is checked is what is connected to)."""
        target, addresses = self._addresses(url, strict=True)
        if not addresses or not all(self.allows(a) for a in addresses):
            raise UrlRefused(NOT_ALLOWED)
        return target, str(addresses[0])

    def _addresses(self, url: str, strict: bool) -> tuple[Target, list[Address]]:
        target = parse(url)
        literal = _literal_address(target.host)
        if literal is not None:
            return target, [literal]
        # localhost names are loopback whatever a resolver answers (checked after the rest).
        implied = [LOOPBACK] if LOCAL_NAMES.search(target.host) else []
        if not (strict or self.production):
            return target, implied
        try:
            found = self.resolver(target.host, target.port)
        except (OSError, UnicodeError):
            if strict:
                raise
            return target, implied
        return target, [ipaddress.ip_address(a.split("%", 1)[0]) for a in found] + implied


@functools.cache
def _policy(mode: str, networks: str) -> UrlPolicy:
    return UrlPolicy(mode == "production", parse_networks(networks))


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """``CRMAPI_WEBHOOK_ALLOW``: comma- or space-separated CIDRs (a bare address is a /32)."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items)


def _literal_address(host: str) -> Address | None:
    """The address a host names literally, in any spelling the C library accepts."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if ":" in host:
        return None
    try:  # 2130706433, 0x7f000001, 0177.0.0.1, 127.1: what inet_aton (and getaddrinfo) read
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        return None


def parse(url: str) -> Target:
    """Syntax only: raises ``UrlRefused`` for anything a webhook URL must not be."""
    if not isinstance(url, str) or FORBIDDEN_CHARACTERS.search(url):
        raise UrlRefused(INVALID)  # whitespace, CR/LF, control characters, backslashes
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(INVALID) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UrlRefused(INVALID)
    if "@" in parts.netloc:
        raise UrlRefused("URLs with credentials (user:password@) are not accepted.")
    if port == 0:
        raise UrlRefused(INVALID)
    host = _host(parts)
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), parts.netloc, path)


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if parts.netloc.startswith("[") or ":" in host:
        if _literal_address(host) is None:
            raise UrlRefused(INVALID)
        return host
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UrlRefused(INVALID) from None
    if len(encoded) > 253 or not (HOST_NAME.match(encoded) or _literal_address(encoded)):
        raise UrlRefused(INVALID)
    return encoded
