"""Snapshot and tree objects, and retention (which snapshots ``forget`` keeps).

A **tree** is a blob (type TREE, stored in packs like data, so it dedups too) holding one
directory's entries as canonical JSON: name, type (file, dir, symlink), mode, mtime (ns),
uid/gid, size, the chunk ids of a file, the subtree id of a directory, a symlink's target.
Names are ``os.fsdecode``d; undecodable bytes survive as surrogate escapes (JSON ``\\udcXX``).

A **snapshot** is a small sealed object ``snapshots/<id>`` pointing at a root tree whose entries
are the backed-up paths (by base name). It is written last, only after every blob it references
is durable, so a snapshot never points at missing data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


@dataclass
class Node:
    """One directory entry."""

    name: str
    type: str  # "file" | "dir" | "symlink"
    mode: int
    mtime_ns: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    content: list[str] = field(default_factory=list)  # hex chunk ids, files only
    subtree: str | None = None  # hex tree id, dirs only
    target: str | None = None  # symlinks only
    # Change detection for the next backup (as restic does): a file whose size, mtime, ctime and
    # inode are unchanged since the parent snapshot is not read again. Not restored.
    ctime_ns: int = 0
    inode: int = 0

    def to_json(self) -> dict[str, object]:
        """Return the node as a compact JSON object (empty fields omitted)."""
        # vars(), not dataclasses.asdict: asdict deep-copies every chunk list (a third of backup CPU).
        return {k: v for k, v in vars(self).items() if v is not None and v != []}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Node:
        """Return a node from :meth:`to_json` output."""
        return cls(**doc)  # type: ignore[arg-type]


def encode_tree(nodes: Iterable[Node]) -> bytes:
    """Return the canonical bytes of a tree (sorted by name, so equal directories dedup)."""
    ordered = sorted(nodes, key=lambda n: n.name)
    return json.dumps({"nodes": [n.to_json() for n in ordered]}, sort_keys=True, separators=(",", ":")).encode()


def decode_tree(data: bytes) -> list[Node]:
    """Return the nodes of a tree blob."""
    return [Node.from_json(d) for d in json.loads(data)["nodes"]]


@dataclass
class Snapshot:
    """A backup's root: when, what, from where, and the root tree id."""

    time: str
    tree: str
    paths: list[str]
    hostname: str = ""
    tags: list[str] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)  # counts and skipped-path errors
    id: str = ""  # the object name's id; not stored inside the object

    def to_bytes(self) -> bytes:
        """Return the JSON body (without ``id``)."""
        doc = asdict(self)
        doc.pop("id")
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, snapshot_id: str, data: bytes) -> Snapshot:
        """Return the snapshot read from :meth:`to_bytes` output."""
        return cls(id=snapshot_id, **json.loads(data))

    @property
    def datetime(self) -> datetime:
        """Return the snapshot time as an aware datetime."""
        return datetime.fromisoformat(self.time)


def now_iso() -> str:
    """Return the current UTC time in ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Retention:
    """Which snapshots to keep: the newest ``last``, and the newest in each of the last N days/weeks/months/years.

    A snapshot kept by any rule is kept; with every rule at 0 nothing is kept, so ``forget`` refuses that.
    """

    last: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    def select(self, snapshots: Iterable[Snapshot]) -> tuple[list[Snapshot], list[Snapshot]]:
        """Return (keep, remove), both newest first."""
        ordered = sorted(snapshots, key=lambda s: s.datetime, reverse=True)
        keep_ids: set[str] = {s.id for s in ordered[: self.last]}
        buckets = (
            (self.daily, lambda d: d.strftime("%Y-%m-%d")),
            (self.weekly, lambda d: f"{d.isocalendar()[0]}-{d.isocalendar()[1]:02d}"),
            (self.monthly, lambda d: d.strftime("%Y-%m")),
            (self.yearly, lambda d: d.strftime("%Y")),
        )
        for count, bucket in buckets:
            seen: list[str] = []
            for s in ordered:
                b = bucket(s.datetime)
                if b in seen:
                    continue
                if len(seen) >= count:
                    break
                seen.append(b)
                keep_ids.add(s.id)
        keep = [s for s in ordered if s.id in keep_ids]
        return keep, [s for s in ordered if s.id not in keep_ids]
