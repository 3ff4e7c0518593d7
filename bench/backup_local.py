"""Backup/restore throughput and dedup of the chunk store on a real tree, side by side with restic.

Steps, identical for both tools, each run as a child process so its wall time, CPU time (user+sys)
and peak RSS are measured on its own (``os.wait4``):

1. copy the corpus (default: /usr/lib/python3.11, /usr/share/doc, /usr/share/man) into a work dir;
2. ``backup-1``: first backup of the copy into an empty repository;
3. change 1% of the files deterministically (every 100th file in sorted order gets 64 bytes
   overwritten in its middle) and add one new 8 MiB random file;
4. ``backup-2``: second backup;
5. ``restore``: restore the latest snapshot into an empty directory and verify it byte for byte.

restic (``apt-get install -y restic``; skipped with a note when absent) runs with its defaults
(repository v2, compression auto). Writes ``bench/results/backup_local.json`` with each step's
figures, repository sizes and Warden/restic ratios. The full comparison on a ≥ 1 GB tree with
medians of ≥ 3 runs is ``bench/backup_vs_restic.py`` (later).

Usage: ``.venv/bin/python bench/backup_local.py [--source DIR ...] [--work DIR] [--no-restic]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SOURCES = ["/usr/lib/python3.11", "/usr/share/doc", "/usr/share/man"]
PASSWORD = "bench password"
RESULTS = Path(__file__).resolve().parent / "results" / "backup_local.json"


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd``; return wall seconds, CPU seconds and peak RSS (MiB) of that process. Raise on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {err.decode()[-2000:]}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "stdout": out.decode()[-300:].strip(),
    }


def tree_bytes(root: Path) -> tuple[int, int]:
    """Return (regular files, bytes) under ``root``."""
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                size += os.path.getsize(p)
    return files, size


def digest(root: Path) -> str:
    """Return a digest of every path, file content, symlink target and file mode under ``root``."""
    h = hashlib.blake2b()
    for dirpath, dirnames, names in os.walk(root):
        dirnames.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            rel = os.fsencode(p.relative_to(root))
            st = p.lstat()
            h.update(rel + b"\0" + str(st.st_mode).encode())
            if p.is_symlink():
                h.update(os.fsencode(os.readlink(p)))
            elif p.is_file():
                h.update(hashlib.blake2b(p.read_bytes()).digest())
    return h.hexdigest()


def change_one_percent(root: Path) -> dict[str, int]:
    """Overwrite 64 bytes mid-file in every 100th regular file (sorted), add an 8 MiB file; return counts."""
    files = sorted(os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns if os.path.isfile(os.path.join(d, n)))
    files = [f for f in files if not os.path.islink(f)]
    changed = 0
    rnd = random.Random(1234)
    for f in files[::100]:
        size = os.path.getsize(f)
        with open(f, "r+b") as fh:
            fh.seek(size // 2)
            fh.write(rnd.randbytes(64))
        changed += 1
    (root / "new-8MiB.bin").write_bytes(random.Random(8).randbytes(8 * 1024 * 1024))
    return {"files_changed": changed, "files_total": len(files), "new_bytes": 8 * 1024 * 1024}


def dir_size(root: Path) -> int:
    """Return the bytes of every file under ``root``."""
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(root) for n in ns)


# --- one step of Warden, run in a child process --------------------------------------------------


def warden_step(step: str, repo: str, path: str, cache: str) -> None:
    from warden.backup.chunkstore import LocalBackend, Repository

    backend = LocalBackend(repo)
    if step == "init":
        Repository.init(backend, PASSWORD, cache_dir=cache).close()
        return
    with Repository.open(backend, PASSWORD, cache_dir=cache) as r:
        if step == "backup":
            snap = r.backup([path])
            print(json.dumps({"snapshot": snap.id, **{k: v for k, v in snap.summary.items() if k != "errors"}}))
        else:
            res = r.restore("latest", path)
            print(json.dumps({"files": res.files, "bytes": res.bytes_written}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", action="append", help="directory to copy into the corpus (repeatable)")
    ap.add_argument("--work", help="work directory (default: a temp dir, removed afterwards)")
    ap.add_argument("--no-restic", action="store_true")
    ap.add_argument("--_step")
    ap.add_argument("--_repo")
    ap.add_argument("--_path")
    ap.add_argument("--_cache")
    args = ap.parse_args()
    if args._step:
        warden_step(args._step, args._repo, args._path, args._cache)
        return 0

    work = Path(args.work or tempfile.mkdtemp(prefix="warden-bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir()
    for s in args.source or DEFAULT_SOURCES:
        subprocess.run(["cp", "-a", s, str(corpus / Path(s).name)], check=False)  # unreadable files are skipped
    files, size = tree_bytes(corpus)
    print(f"corpus: {files} files, {size / 2**20:.0f} MiB in {corpus}", flush=True)

    tools = ["warden"]
    have_restic = shutil.which("restic") is not None
    if have_restic and not args.no_restic:
        tools.append("restic")
    warden_cmd = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, dict[str, object]] = {t: {} for t in tools}
    for tool in tools:
        for d in ("repo", "restore", "cache"):
            shutil.rmtree(work / f"{tool}-{d}", ignore_errors=True)

    def step(tool: str, name: str, path: Path | None = None) -> None:
        repo, cache = work / f"{tool}-repo", work / f"{tool}-cache"
        env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(cache), RESTIC_REPOSITORY=str(repo))
        if tool == "restic":
            cmd = {
                "init": ["restic", "init", "-q"],
                "backup": ["restic", "backup", "-q", str(path)],
                "restore": ["restic", "restore", "latest", "-q", "--target", str(path)],
            }[name.split("-")[0]]
        else:
            cmd = [*warden_cmd, "--_step", name.split("-")[0], "--_repo", str(repo), "--_path", str(path or "")]
            cmd += ["--_cache", str(cache)]
        figures = measure(cmd, env)
        if name != "init":
            figures["mb_per_s"] = round(size / 2**20 / figures["wall_s"], 1)
            results[tool][name] = figures
            print(
                f"{tool:7s} {name:9s} {figures['wall_s']:7.2f} s wall {figures['cpu_s']:7.2f} s cpu "
                f"{figures['peak_rss_mib']:7.1f} MiB peak  {figures['mb_per_s']:6.1f} MB/s",
                flush=True,
            )

    for tool in tools:
        step(tool, "init")
        step(tool, "backup-1", corpus)
        results[tool]["repo_bytes_1"] = dir_size(work / f"{tool}-repo")
    change = change_one_percent(corpus)
    _, size = tree_bytes(corpus)
    expected = digest(corpus)
    for tool in tools:
        step(tool, "backup-2", corpus)
        results[tool]["repo_bytes_2"] = dir_size(work / f"{tool}-repo")
        results[tool]["repo_growth_2"] = results[tool]["repo_bytes_2"] - results[tool]["repo_bytes_1"]
        step(tool, "restore", work / f"{tool}-restore")
        restored = work / f"{tool}-restore"
        # restic restores the absolute path below the target; Warden restores by base name.
        inner = restored / str(corpus).lstrip("/") if tool == "restic" else restored / corpus.name
        results[tool]["restore_verified"] = digest(inner) == expected
        print(
            f"{tool:7s} repo {results[tool]['repo_bytes_2'] / 2**20:.1f} MiB, "
            f"second backup added {results[tool]['repo_growth_2'] / 2**20:.2f} MiB, "
            f"restore verified: {results[tool]['restore_verified']}",
            flush=True,
        )

    doc: dict[str, object] = {
        "benchmark": "backup_local",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "corpus": {"sources": args.source or DEFAULT_SOURCES, "files": files, "bytes": size, **change},
        "results": results,
        "restic": "absent" if not have_restic else ("skipped" if args.no_restic else "measured"),
    }
    if "restic" in results:
        ratios = {}
        for name in ("backup-1", "backup-2", "restore"):
            w, r = results["warden"][name], results["restic"][name]
            ratios[name] = {k: round(w[k] / r[k], 2) for k in ("wall_s", "cpu_s", "peak_rss_mib") if r[k]}
        ratios["repo_bytes"] = round(results["warden"]["repo_bytes_2"] / results["restic"]["repo_bytes_2"], 3)
        doc["ratios_warden_over_restic"] = ratios
        print("ratios warden/restic:", json.dumps(ratios), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2))
    print(f"wrote {RESULTS}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    ok = all(results[t].get("restore_verified") for t in tools)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
