"""Warden's chunk store against restic on a real ≥ 1 GB tree: first backup, second backup, restore.

The corpus is Debian's kernel source tree (``linux-source-X.Y``: about 1.3 GB in about 78,000 files),
fetched with ``apt-get download`` and extracted once into ``bench/.cache/`` (git-ignored); ``--corpus
DIR`` uses another tree instead. restic comes from the Debian package (installed with ``apt-get`` when
absent; without apt or root the bench says so and exits 0 without figures).

Each run, for both tools in the same run and on the same bytes:

1. copy the pristine corpus into the work dir (so every run starts from the same tree);
2. ``backup-1``: first backup into an empty repository;
3. change 1% of the regular files, chosen by a seeded RNG (64 random bytes overwritten at a seeded
   offset in each), and add one new 8 MiB random file;
4. ``backup-2``: second backup (each tool uses its own cache from step 2, as a real user would);
5. ``restore``: restore the latest snapshot into an empty directory; the restored tree is compared
   with the source (paths, modes, symlink targets, content digests).

Every step is a child process. Wall time is measured around it; CPU time is user+sys from
``os.wait4``; peak memory is the largest sum of RSS over the step's process tree, sampled every
50 ms from ``/proc`` (and never less than the ``wait4`` peak of the step's main process). The
figures reported are medians over ``--runs`` runs (default 3); ratios are Warden / restic.

Targets (issue 7): Warden's wall time ≤ 1.0 x restic's for each step, repository ≤ 1.05 x, peak
memory ≤ restic's. Exit status 2 when a target is missed, 1 when a restore does not verify.
Writes ``bench/results/backup_vs_restic.json``.

Usage: ``.venv/bin/python bench/backup_vs_restic.py [--runs N] [--corpus DIR] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from backup_local import PASSWORD, digest, dir_size, tree_bytes, warden_step  # noqa: E402

CACHE = BENCH / ".cache"
RESULTS = BENCH / "results" / "backup_vs_restic.json"
STEPS = ("backup-1", "backup-2", "restore")
TARGETS = {"wall_s": 1.0, "peak_rss_mib": 1.0, "repo_bytes": 1.05}


# --- corpus and restic ---------------------------------------------------------------------------


def ensure_restic() -> str | None:
    """Return the restic binary, installing the Debian package if needed; None (with a note) if impossible."""
    found = shutil.which("restic")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print("restic is absent and cannot be installed here (needs apt-get as root); skipping", flush=True)
        return None
    subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "restic"], check=False, stdout=subprocess.DEVNULL)
    return shutil.which("restic")


def kernel_source_tree() -> Path | None:
    """Return the extracted Debian kernel source tree under bench/.cache, fetching it if needed; None if apt fails."""
    done = sorted(CACHE.glob("linux/linux-source-*/"))
    if done:
        return done[-1]
    if shutil.which("apt-get") is None:
        print("apt-get is unavailable: pass --corpus DIR (a tree of >= 1 GB and >= 50,000 files)", flush=True)
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    deps = subprocess.run(["apt-cache", "depends", "linux-source"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip() for line in deps.splitlines() if line.strip().startswith("Depends:")]
    if not names:
        print("apt knows no linux-source package (run apt-get update?): pass --corpus DIR", flush=True)
        return None
    print(f"fetching {names[0]} into {CACHE}", flush=True)
    if subprocess.run(["apt-get", "download", names[0]], cwd=CACHE).returncode != 0:
        return None
    deb = sorted(CACHE.glob(f"{names[0]}_*.deb"))[-1]
    subprocess.run(["dpkg-deb", "-x", str(deb), str(CACHE / "deb")], check=True)
    (CACHE / "linux").mkdir(exist_ok=True)
    tarball = sorted((CACHE / "deb" / "usr" / "src").glob("linux-source-*.tar.*"))[-1]
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(CACHE / "linux")], check=True)
    shutil.rmtree(CACHE / "deb")
    deb.unlink()
    return sorted(CACHE.glob("linux/linux-source-*/"))[-1]


def change_one_percent(root: Path, seed: int = 7) -> dict[str, int]:
    """Overwrite 64 seeded-random bytes at a seeded offset in a seeded 1% of regular files, add 8 MiB; return counts."""
    files = sorted(p for d, _, ns in os.walk(root) for n in ns if (p := os.path.join(d, n)) and os.path.isfile(p))
    files = [f for f in files if not os.path.islink(f)]
    rnd = random.Random(seed)
    chosen = rnd.sample(files, max(1, len(files) // 100))
    for f in sorted(chosen):
        size = os.path.getsize(f)
        with open(f, "r+b") as fh:
            fh.seek(rnd.randrange(max(1, size - 64)) if size > 64 else 0)
            fh.write(rnd.randbytes(64))
    (root / "new-8MiB.bin").write_bytes(random.Random(seed + 1).randbytes(8 * 1024 * 1024))
    return {"files_changed": len(chosen), "files_total": len(files), "new_bytes": 8 * 1024 * 1024}


# --- measuring a step ----------------------------------------------------------------------------


def _tree_rss_kib(root_pid: int) -> int:
    """Return the summed VmRSS (KiB) of ``root_pid`` and all its descendants (0 once gone)."""
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd``; return wall s, CPU s (user+sys) and peak RSS MiB of its process tree. Raise on failure."""
    peak = [0]
    done = threading.Event()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child can never block on it
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise RuntimeError(f"{cmd[:3]} failed: {errors.read().decode(errors='replace')[-2000:]}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(max(peak[0], usage.ru_maxrss) / 1024, 1),
    }


def tool_command(tool: str, step: str, repo: Path, cache: Path, path: Path | None) -> list[str]:
    """Return the command line for one step (``init``, ``backup`` or ``restore``) of one tool."""
    if tool == "restic":
        return {
            "init": ["restic", "init", "-q"],
            "backup": ["restic", "backup", "-q", str(path)],
            "restore": ["restic", "restore", "latest", "-q", "--target", str(path)],
        }[step]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_step", step, "--_repo", str(repo)]
    return [*cmd, "--_path", str(path or ""), "--_cache", str(cache)]


# --- one run -------------------------------------------------------------------------------------


def one_run(run: int, pristine: Path, work: Path, tools: list[str]) -> dict[str, dict[str, object]]:
    """Do every step of one run for each tool (interleaved, same tree); return {tool: {step: figures, ...}}."""
    # Nothing is deleted while a run measures: ext4 avoids reusing inodes freed in the last minutes, and
    # a step creating files right after 78,579 were deleted ran up to 2.5x slower (`recently_deleted` in
    # perf), whichever tool it was. Every run works in its own directory; main() removes them at the end.
    work = work / f"run-{run}"
    shutil.rmtree(work, ignore_errors=True)  # only left by an earlier invocation with the same --work
    work.mkdir(parents=True)
    corpus = work / "corpus"
    subprocess.run(["cp", "-a", str(pristine), str(corpus)], check=True)
    out: dict[str, dict[str, object]] = {t: {} for t in tools}

    def step(tool: str, name: str, path: Path | None = None) -> None:
        repo, cache = work / f"{tool}-repo", work / f"{tool}-cache"
        os.sync()  # the previous steps' dirty pages are written back before this one is timed
        env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(cache), RESTIC_REPOSITORY=str(repo))
        figures = measure(tool_command(tool, name.split("-")[0], repo, cache, path), env)
        if name != "init":
            out[tool][name] = figures
            print(
                f"run {run} {tool:7s} {name:9s} {figures['wall_s']:7.2f} s wall {figures['cpu_s']:7.2f} s cpu "
                f"{figures['peak_rss_mib']:7.1f} MiB peak",
                flush=True,
            )

    # Each run swaps which tool goes first, so neither always meets a cold page cache or the same load burst.
    order = tools if run % 2 else tools[::-1]
    for tool in order:
        step(tool, "init")
        step(tool, "backup-1", corpus)
        out[tool]["repo_bytes_1"] = dir_size(work / f"{tool}-repo")
    change = change_one_percent(corpus)
    expected = digest(corpus)
    for tool in order:
        step(tool, "backup-2", corpus)
        out[tool]["repo_bytes_2"] = dir_size(work / f"{tool}-repo")
    for tool in order:
        step(tool, "restore", work / f"{tool}-restore")
    for tool in order:
        restored = work / f"{tool}-restore"
        # restic restores the absolute path below the target; Warden restores by base name.
        inner = restored / str(corpus).lstrip("/") if tool == "restic" else restored / corpus.name
        out[tool]["restore_verified"] = digest(inner) == expected
        print(f"run {run} {tool:7s} restore verified: {out[tool]['restore_verified']}", flush=True)
    out["_change"] = change  # type: ignore[assignment]
    return out


def medians(runs: list[dict[str, dict[str, object]]], tool: str) -> dict[str, object]:
    """Return the per-step medians (wall, CPU, peak RSS) and median repository sizes of ``tool`` over ``runs``."""
    med: dict[str, object] = {}
    for name in STEPS:
        med[name] = {k: round(statistics.median(r[tool][name][k] for r in runs), 3) for k in runs[0][tool][name]}
    for key in ("repo_bytes_1", "repo_bytes_2"):
        med[key] = int(statistics.median(r[tool][key] for r in runs))
    med["restore_verified"] = all(r[tool]["restore_verified"] for r in runs)
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", help="tree to back up instead of the Debian kernel source")
    ap.add_argument("--work", help="work directory (default: a temp dir under /tmp, removed afterwards)")
    ap.add_argument("--_step")
    ap.add_argument("--_repo")
    ap.add_argument("--_path")
    ap.add_argument("--_cache")
    args = ap.parse_args()
    if args._step:
        warden_step(args._step, args._repo, args._path, args._cache)
        return 0

    restic = ensure_restic()
    pristine = Path(args.corpus) if args.corpus else kernel_source_tree()
    if restic is None or pristine is None:
        return 0
    files, size = tree_bytes(pristine)
    print(f"corpus: {pristine}: {files} files, {size / 2**20:.0f} MiB; {args.runs} runs", flush=True)
    version = subprocess.run([restic, "version"], capture_output=True, text=True).stdout.strip()

    work = Path(args.work or tempfile.mkdtemp(prefix="warden-bench-vs-restic-"))
    work.mkdir(parents=True, exist_ok=True)
    tools = ["warden", "restic"]
    runs = []
    started = time.time()
    try:
        for run in range(1, args.runs + 1):
            runs.append(one_run(run, pristine, work, tools))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    results = {t: medians(runs, t) for t in tools}
    ratios: dict[str, object] = {}
    for name in STEPS:
        w, r = results["warden"][name], results["restic"][name]
        ratios[name] = {k: round(w[k] / r[k], 3) for k in ("wall_s", "cpu_s", "peak_rss_mib") if r[k]}
    ratios["repo_bytes"] = round(results["warden"]["repo_bytes_2"] / results["restic"]["repo_bytes_2"], 3)
    missed = [f"{n} {k}" for n in STEPS for k in ("wall_s", "peak_rss_mib") if ratios[n][k] > TARGETS[k]]
    if ratios["repo_bytes"] > TARGETS["repo_bytes"]:
        missed.append("repo_bytes")
    doc = {
        "benchmark": "backup_vs_restic",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "restic": version,
        "corpus": {"path": str(pristine), "files": files, "bytes": size, **runs[0]["_change"]},
        "runs": args.runs,
        "seconds_total": round(time.time() - started, 1),
        "medians": results,
        "per_run": [{t: r[t] for t in tools} for r in runs],
        "ratios_warden_over_restic": ratios,
        "targets": TARGETS,
        "targets_missed": missed,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2))
    for name in STEPS:
        w, r = results["warden"][name], results["restic"][name]
        print(
            f"median {name:9s} wall {w['wall_s']:7.2f} / {r['wall_s']:7.2f} s  cpu {w['cpu_s']:7.2f} / "
            f"{r['cpu_s']:7.2f} s  peak {w['peak_rss_mib']:6.1f} / {r['peak_rss_mib']:6.1f} MiB (warden / restic)"
        )
    print(
        f"repository after backup-2: warden {results['warden']['repo_bytes_2'] / 2**20:.1f} MiB, "
        f"restic {results['restic']['repo_bytes_2'] / 2**20:.1f} MiB"
    )
    print("ratios warden/restic:", json.dumps(ratios))
    print("targets missed:", ", ".join(missed) or "none")
    print(f"wrote {RESULTS}")
    if not all(results[t]["restore_verified"] for t in tools):
        return 1
    return 2 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
