"""Reference data the detectors use, loaded from files the admin provides (none are shipped).

- IP locations: CSV ``CIDR,city,country,lat,lon`` (a header line and ``#`` comments are skipped);
  the longest matching prefix wins.
- Anonymizing IPs: one address or CIDR a line; a Tor exit list's ``ExitAddress IP date`` lines are
  accepted too (the first token that parses as an address is used).
- Leaked passwords: SHA-1 hex a line, with an optional ``:count`` suffix (Have I Been Pwned's
  format). The set is held in memory (20 bytes a hash), so multi-gigabyte lists need pruning first.

Each loader caches its result per (path, size, mtime), so a replaced file is picked up without a
restart.
"""

from __future__ import annotations

import csv
import ipaddress
import math
import threading
from dataclasses import dataclass
from pathlib import Path

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ReferenceDataError(ValueError):
    """A reference file is unreadable or has a malformed line (the message names the line)."""


@dataclass(frozen=True)
class GeoLocation:
    city: str
    country: str  # as written in the file; Graph's countryOrRegion is usually an ISO 3166 code
    latitude: float
    longitude: float

    def graph(self) -> dict[str, object]:
        """Graph's signInLocation shape."""
        return {
            "city": self.city,
            "state": None,
            "countryOrRegion": self.country,
            "geoCoordinates": {"latitude": self.latitude, "longitude": self.longitude, "altitude": None},
        }


def distance_km(a: GeoLocation, b: GeoLocation) -> float:
    """Great-circle distance in kilometres (haversine, mean Earth radius 6371 km)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def parse_ip(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``value``, or None when it is not one."""
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


class PrefixTable:
    """Longest-prefix lookup from networks to values (one dict per prefix length)."""

    def __init__(self) -> None:
        self._by_length: dict[tuple[int, int], dict[int, object]] = {}

    def add(self, network: IPNetwork, value: object) -> None:
        key = (network.version, network.prefixlen)
        self._by_length.setdefault(key, {})[int(network.network_address)] = value

    def lookup(self, address: object) -> object | None:
        """The value of the longest prefix containing ``address``, or None."""
        ip = parse_ip(address)
        if ip is None:
            return None
        bits = 32 if ip.version == 4 else 128
        for version, length in sorted(self._by_length, key=lambda k: -k[1]):
            if version != ip.version:
                continue
            masked = int(ip) >> (bits - length) << (bits - length) if length else 0
            hit = self._by_length[(version, length)].get(masked)
            if hit is not None:
                return hit
        return None

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_length.values())


class IpLocations:
    """IP-to-location lookup from the admin's CSV."""

    def __init__(self, table: PrefixTable) -> None:
        self._table = table

    def locate(self, address: object) -> GeoLocation | None:
        """Where ``address`` is, or None when no listed range holds it."""
        found = self._table.lookup(address)
        return found if isinstance(found, GeoLocation) else None

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> IpLocations:
        """Parse ``CIDR,city,country,lat,lon`` lines; raises ReferenceDataError on a bad line."""
        table = PrefixTable()
        for number, row in enumerate(csv.reader(text.splitlines()), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if number == 1 and row[0].strip().lower() in ("cidr", "network", "prefix"):
                continue
            if len(row) < 5:
                raise ReferenceDataError(f"{source}:{number}: expected CIDR,city,country,lat,lon")
            try:
                network = ipaddress.ip_network(row[0].strip(), strict=False)
                lat, lon = float(row[3]), float(row[4])
            except ValueError as error:
                raise ReferenceDataError(f"{source}:{number}: {error}") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ReferenceDataError(f"{source}:{number}: latitude/longitude out of range")
            table.add(network, GeoLocation(row[1].strip(), row[2].strip(), lat, lon))
        return cls(table)


class AddressList:
    """A set of addresses and networks (anonymizing IPs)."""

    def __init__(self, table: PrefixTable) -> None:
        self._table = table

    def __contains__(self, address: object) -> bool:
        return self._table.lookup(address) is not None

    def __len__(self) -> int:
        return len(self._table)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> AddressList:
        """One address or CIDR a line (first token that parses); raises ReferenceDataError when a
        non-comment line holds none."""
        table = PrefixTable()
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            network = None
            for token in line.replace(",", " ").split():
                try:
                    network = ipaddress.ip_network(token, strict=False)
                    break
                except ValueError:
                    continue
            if network is None:
                if line.split()[0] in ("ExitNode", "Published", "LastStatus"):  # Tor exit list metadata
                    continue
                raise ReferenceDataError(f"{source}:{number}: no IP address or CIDR on the line")
            table.add(network, True)
        return cls(table)


def parse_leaked_hashes(text: str, source: str = "<text>") -> frozenset[bytes]:
    """SHA-1 digests from ``HEX[:count]`` lines; raises ReferenceDataError on a malformed line."""
    digests = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        hex_digest = line.split(":", 1)[0].strip()
        try:
            digest = bytes.fromhex(hex_digest)
        except ValueError:
            digest = b""
        if len(digest) != 20:
            raise ReferenceDataError(f"{source}:{number}: not a SHA-1 hex digest")
        digests.add(digest)
    return frozenset(digests)


_cache: dict[tuple[str, str], tuple[tuple[int, int], object]] = {}
_cache_lock = threading.Lock()


def load_cached(kind: str, path: Path, parse):  # type: ignore[no-untyped-def]
    """``parse(text, source)`` of the file at ``path``, re-read only when its size or mtime changes.

    Raises ReferenceDataError when the file cannot be read.
    """
    try:
        stat = path.stat()
    except OSError as error:
        raise ReferenceDataError(f"{path}: {error.strerror}") from None
    stamp = (stat.st_size, stat.st_mtime_ns)
    key = (kind, str(path))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ReferenceDataError(f"{path}: {error.strerror}") from None
    value = parse(text, str(path))
    with _cache_lock:
        _cache[key] = (stamp, value)
    return value


def load_ip_locations(path: Path | None) -> IpLocations | None:
    """The IP location table at ``path`` (None when no path is configured)."""
    return None if path is None else load_cached("locations", Path(path), IpLocations.parse)


def load_anonymous_ips(path: Path | None) -> AddressList | None:
    """The anonymizing IP list at ``path`` (None when no path is configured)."""
    return None if path is None else load_cached("anonymous", Path(path), AddressList.parse)


def load_leaked_hashes(path: Path | None) -> frozenset[bytes] | None:
    """The leaked password digests at ``path`` (None when no path is configured)."""
    return None if path is None else load_cached("leaked", Path(path), parse_leaked_hashes)
