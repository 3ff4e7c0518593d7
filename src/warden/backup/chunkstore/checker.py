"""``run_check``: structural check and, with ``read_data``, a full read of every blob.

Structure: every index file opens, every indexed pack exists, every snapshot and tree opens, and
every blob a snapshot references is indexed in a pack that exists. Packs without an index file
(left by an interrupted backup) are warnings, not errors: prune removes them.

Read-data: every pack is read whole; its BLAKE3 name is compared with its content and every blob
is decrypted and its keyed id recomputed. A damaged or missing blob is reported with every
``snapshot:path`` that uses it, so the operator knows which files are affected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import blake3

from .errors import BlobNotFound, IntegrityError, ObjectNotFound
from .packs import open_blob, pack_name
from .snapshots import decode_tree

if TYPE_CHECKING:
    from .repository import Repository


@dataclass
class CheckProgress:
    """Running totals passed to the progress callback."""

    phase: str = ""
    packs_read: int = 0
    packs_total: int = 0
    blobs_checked: int = 0


@dataclass
class CheckResult:
    """Findings. ``ok`` is true when there are no errors (warnings are allowed)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    damaged_blobs: dict[str, list[str]] = field(default_factory=dict)  # blob id -> ["snap:path", ...]
    missing_blobs: dict[str, list[str]] = field(default_factory=dict)
    snapshots: int = 0
    packs: int = 0
    blobs_checked: int = 0

    @property
    def ok(self) -> bool:
        """Return whether the repository passed."""
        return not self.errors


def run_check(repo: Repository, read_data: bool, progress: Callable[[CheckProgress], None] | None) -> CheckResult:
    """Check the repository; return a CheckResult (it does not raise for damage it finds)."""
    result = CheckResult()
    prog = CheckProgress(phase="index")
    report = progress or (lambda _p: None)
    for bad in repo.index.sync(repo.backend, repo.cipher):
        result.errors.append(f"index file {bad} is unreadable")
    stored = {n.rsplit("/", 1)[1] for n in repo.backend.list("data/")}
    indexed = repo.index.packs()
    for pack in sorted(indexed - stored):
        result.errors.append(f"pack {pack} is indexed but missing")
    for pack in sorted(stored - indexed):
        result.warnings.append(f"pack {pack} has no index file (interrupted backup); prune will remove it")
    result.packs = len(stored)

    damaged: dict[str, str] = {}  # blob id -> reason
    if read_data:
        prog.phase, prog.packs_total = "read-data", len(indexed & stored)
        for pack in sorted(indexed & stored):
            try:
                raw = repo.backend.get(pack_name(pack))
            except ObjectNotFound:
                result.errors.append(f"pack {pack} vanished during check")
                continue
            if blake3.blake3(raw).hexdigest() != pack:
                result.errors.append(f"pack {pack}: content does not match its name (damaged)")
            for entry in repo.index.pack_entries(pack):
                result.blobs_checked += 1
                try:
                    open_blob(repo.cipher, entry, raw[entry.offset : entry.offset + entry.length])
                except IntegrityError as exc:
                    damaged[entry.id.hex()] = f"pack {pack}: {exc}"
            prog.packs_read += 1
            prog.blobs_checked = result.blobs_checked
            report(prog)

    prog.phase = "snapshots"
    report(prog)
    users: dict[str, list[str]] = defaultdict(list)
    missing: set[str] = set()
    seen_trees: set[str] = set()
    snaps = repo.snapshots()
    result.snapshots = len(snaps)

    def walk(sid: str, tree_id: str, rel: str) -> None:
        try:
            nodes = decode_tree(repo.load_blob(bytes.fromhex(tree_id)))
        except (BlobNotFound, IntegrityError) as exc:
            result.errors.append(f"snapshot {sid}: tree {tree_id} of {rel or '/'} is unreadable: {exc}")
            return
        for node in nodes:
            path = f"{rel}/{node.name}" if rel else node.name
            for blob in node.content:
                if blob in damaged:
                    users[blob].append(f"{sid}:{path}")
                elif repo.index.lookup(bytes.fromhex(blob)) is None:
                    missing.add(blob)
                    users[blob].append(f"{sid}:{path}")
            if node.subtree and (node.subtree not in seen_trees or damaged or missing):
                # Revisit shared trees only when there is damage to attribute to every path.
                seen_trees.add(node.subtree)
                walk(sid, node.subtree, path)

    for snap in snaps:
        walk(snap.id, snap.tree, "")
    for blob, reason in damaged.items():
        result.damaged_blobs[blob] = users.get(blob, [])
        if blob in users:
            result.errors.append(f"blob {blob} is damaged ({reason}); used by: {', '.join(users[blob])}")
        else:  # no snapshot needs it: prune will drop it, nothing is lost
            result.warnings.append(f"blob {blob} is damaged ({reason}) but no snapshot uses it")
    for blob in sorted(missing):
        result.missing_blobs[blob] = users[blob]
        result.errors.append(f"blob {blob} is missing; used by: {', '.join(users[blob])}")
    return result
