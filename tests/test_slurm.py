"""The HPC path on a real Slurm cluster (``hpc/local-slurm.sh up``; `.ci/run` starts one as root).

Worker jobs are genuine Slurm batch jobs submitted by dask-jobqueue; the tests check what Slurm
ran (``sacct -c`` reads the job-completion log), that results equal the in-process executor's,
that a worker job cancelled mid-run does not lose work, and that no job is left behind.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_simulated_frames

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "hpc" / "local.yaml"
pytestmark = pytest.mark.slurm


def _slurm_reason() -> str | None:
    """Why the Slurm tests cannot run here, or None when a cluster is up."""
    if not shutil.which("sinfo") or not shutil.which("sbatch"):
        return "no Slurm client commands (start one with `make slurm-up` as root)"
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not {"idle", "mixed", "allocated"} & set(out.stdout.split()):
        return f"no Slurm node is up (sinfo: {(out.stdout + out.stderr).strip() or 'nothing'})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_up():
    reason = _slurm_reason()
    if reason:
        pytest.skip(reason)
    yield
    deadline = time.time() + 60
    while _our_jobs() and time.time() < deadline:
        time.sleep(1)
    assert _our_jobs() == [], "worker jobs left in squeue"


def _our_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", "camsort-worker", "-o", "%i"], capture_output=True, text=True)
    return out.stdout.split()


def _finished_jobs() -> dict[str, str]:
    """Job id -> state of camsort worker jobs Slurm has finished (job-completion log)."""
    out = subprocess.run(["sacct", "-c", "-S", "2000-01-01", "-X", "-P", "-n", "-o", "jobid,jobname,state"],
                         capture_output=True, text=True)
    rows = [line.split("|") for line in out.stdout.splitlines() if line.count("|") == 2]
    return {job: state for job, name, state in rows if name == "camsort-worker"}


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    return write_simulated_frames(tmp_path_factory.mktemp("slurm_frames"), 16, seed=300, long_side=400)


def _camsort(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xicam.camsort.cli", *args], capture_output=True, text=True,
                          timeout=600)


def _manifest(out: Path) -> list[tuple]:
    with open(out / "manifest.csv", newline="") as fh:
        return [(r["source"], r["technique"], *[r[k] for k in r if k.startswith("p_")], Path(r["output"]).name)
                for r in csv.DictReader(fh)]


def test_sort_through_real_slurm_jobs_equals_the_local_executor(frames, tmp_path):
    before = set(_finished_jobs())
    t0 = time.perf_counter()
    slurm = _camsort("run", "workflows/sort.yml", "--input", str(frames), "--out", str(tmp_path / "slurm"),
                     "--executor", "slurm", "--config", str(PROFILE), "--workers", "2", "--batch-size", "4", "-q")
    slurm_s = time.perf_counter() - t0
    assert slurm.returncode == 0, slurm.stderr[-2000:]
    t0 = time.perf_counter()
    local = _camsort("run", "workflows/sort.yml", "--input", str(frames), "--out", str(tmp_path / "local"),
                     "--executor", "local", "--workers", "2", "--batch-size", "4", "-q")
    local_s = time.perf_counter() - t0
    assert local.returncode == 0, local.stderr[-2000:]
    assert "sorted 16 frame(s)" in slurm.stdout
    assert _manifest(tmp_path / "slurm") == _manifest(tmp_path / "local")
    time.sleep(2)
    jobs = {j: s for j, s in _finished_jobs().items() if j not in before}
    print(f"slurm worker jobs {sorted(jobs, key=int)} states {sorted(set(jobs.values()))}; "
          f"sort of 16 frames: slurm {slurm_s:.1f} s, local {local_s:.1f} s (both incl. cluster start)")
    assert len(jobs) >= 2


def test_sweep_completes_through_slurm(tmp_path):
    from xicam.camsort.datasets import write_dataset

    write_dataset(tmp_path / "data", 12, seed=9, size=96)
    before = set(_finished_jobs())
    out = _camsort("sweep", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "sweep"), "--featurizers",
                   "hist", "--classifiers", "rf", "et", "--variants", "BL", "--folds", "3", "--size", "32",
                   "--executor", "slurm", "--config", str(PROFILE), "--workers", "2", "-q")
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "sweep" / "runs").glob("*.json")) == ["hist_BL_et.json",
                                                                                    "hist_BL_rf.json"]
    assert (tmp_path / "sweep" / "table3.md").read_text().count("| hist | BL |") == 1
    time.sleep(2)
    assert len(set(_finished_jobs()) - before) >= 2


def test_cancelling_a_worker_job_mid_run_loses_nothing(frames, tmp_path):
    from xicam.camsort import workflows
    from xicam.camsort.executors import DaskExecutor
    from xicam.camsort.runner import run_mapped

    spec = workflows.load("sort")
    with DaskExecutor.start("slurm", workers=2, config=PROFILE) as executor:
        executor.client.wait_for_workers(2, timeout=180)
        jobs = [w.job_id for w in executor.cluster.workers.values()]
        original_map = executor.map

        def map_and_cancel(*args, **kwargs):
            for n, item in enumerate(original_map(*args, **kwargs)):
                if n == 0:
                    subprocess.run(["scancel", jobs[0]], check=True)
                yield item

        executor.map = map_and_cancel
        summary = run_mapped(spec, [str(frames)], tmp_path / "out", executor, batch_size=1, mode="manifest-only",
                             progress=False)
    assert sum(summary.counts.values()) == 16 and summary.errors == []
    assert len(_manifest(tmp_path / "out")) == 16
    time.sleep(2)
    assert _finished_jobs().get(jobs[0]) == "CANCELLED"
    print(f"cancelled worker job {jobs[0]} mid-run; all 16 frames sorted by job {jobs[1]}")
