"""ASC parsing throughput: saliency.readers.eyelink.read_asc vs pymovements.gaze.from_asc.

Builds one large ASC file (default ~60 MB) in a temporary directory from the real binocular fixture
../shared/fixtures/eyelink/eyelink_binocular_example.asc: its header and calibration once, then its
recording block (START … END: samples, EFIX/ESACC/EBLINK, TRIALID) repeated with every tracker time
stamp shifted per repetition, then times, each in its own subprocess (self-timed with perf_counter around
the read call only; peak RSS of the child from os.wait4):

  saliency efix     read_asc(path)                          events + messages only (fast path)
  saliency samples  read_asc(path, keep_samples=True)       also every sample → float arrays
  pymovements       pm.gaze.from_asc(path, events=True)     samples + events (the reference venv)

and prints MB/s, lines/s and the ratio to pymovements. Usage (from the repository root):

  nice -n 10 /work/main/.venv/bin/python benchmarks/bench_asc.py [--mb 60] [--ref-python PATH]

``--ref-python`` (or $SALIENCY_REF_PYTHON) defaults to .refvenv/bin/python (built by .ci/build-refvenv);
pymovements is never imported by this project, only run in that interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SALIENCY_SHARED", ROOT.parent / "shared"))
FIXTURE = SHARED / "fixtures" / "eyelink" / "eyelink_binocular_example.asc"

OURS = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from saliency.readers.eyelink import read_asc
t = time.perf_counter()
rec = read_asc({path!r}, default_stimulus="s.png", keep_samples={samples})
dt = time.perf_counter() - t
n = sum(s.time_ms.size for s in rec.samples.values())
print(json.dumps({{"seconds": dt, "efix": rec.stats["efix_lines"], "samples": n}}))
"""

PYMOVEMENTS = r"""
import json, time
import pymovements as pm
t = time.perf_counter()
gaze = pm.gaze.from_asc({path!r}, events=True)
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "efix": int((gaze.events.frame["name"] == "fixation_eyelink").sum()),
                  "samples": gaze.samples.height, "version": pm.__version__}}))
"""


def build(dst: Path, target_mb: float) -> tuple[int, int, float]:
    """Header and calibration once, then the recording block (START … END, with its TRIALID, samples,
    fixations, saccades, blinks) repeated with tracker time stamps shifted per repetition.

    Returns (bytes, lines, fraction of lines that are not samples)."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    a = next(i for i, s in enumerate(lines) if s.startswith("START"))
    b = max(i for i, s in enumerate(lines) if s.startswith("END"))
    head, block = "".join(lines[:a]), "".join(lines[a:b + 1])
    stamps = re.compile(r"(?<![\d.])(\d{7,})(?![\d])")  # tracker times (≥ 7 digits) only
    times = [int(m) for m in stamps.findall(block)]
    span = max(times) - min(times) + 1000
    reps = max(1, int(target_mb * 1e6 / len(block.encode())))
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write(head)
        for k in range(reps):
            off = k * span
            fh.write(stamps.sub(lambda m, off=off: str(int(m.group(1)) + off), block))
    size = dst.stat().st_size
    n_lines = n_other = 0
    with open(dst, "rb") as fh:
        for line in fh:
            n_lines += 1
            n_other += not line[:1].isdigit()
    return size, n_lines, n_other / n_lines


def run_rss(python: str, code: str) -> tuple[dict, float]:
    """Run ``code`` in ``python``; returns its JSON line and the child's peak RSS (MiB)."""
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=60.0, help="size of the generated ASC file (MB)")
    ap.add_argument("--ref-python", default=os.environ.get("SALIENCY_REF_PYTHON", str(ROOT / ".refvenv/bin/python")))
    ap.add_argument("--repeat", type=int, default=2, help="runs of each saliency mode (best is kept)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_asc_") as tmp:
        path = Path(tmp) / "big.asc"
        size, n_lines, other = build(path, args.mb)
        mb = size / 1e6
        print(f"file: {mb:.1f} MB, {n_lines:,} lines, {100 * other:.1f}% not samples "
              f"(recording block of {FIXTURE.name} repeated)")
        results = {}
        for name, samples in (("saliency efix", False), ("saliency samples", True)):
            best = None
            for _ in range(args.repeat):
                r, rss = run_rss(sys.executable, OURS.format(root=str(ROOT), path=str(path), samples=samples))
                if best is None or r["seconds"] < best[0]["seconds"]:
                    best = (r, rss)
            results[name] = best
        results["pymovements"] = run_rss(args.ref_python, PYMOVEMENTS.format(path=str(path)))
        ref = results["pymovements"][0]["seconds"]
        print(f"{'reader':<18}{'seconds':>9}{'MB/s':>9}{'lines/s':>13}{'peak RSS MiB':>14}{'EFIX':>9}"
              f"{'samples':>11}{'× pymovements':>15}")
        for name, (r, rss) in results.items():
            print(f"{name:<18}{r['seconds']:>9.2f}{mb / r['seconds']:>9.1f}{n_lines / r['seconds']:>13,.0f}"
                  f"{rss:>14.0f}{r['efix']:>9,}{r['samples']:>11,}{ref / r['seconds']:>15.1f}")
        print(f"pymovements {results['pymovements'][0].get('version')} via {args.ref_python}")


if __name__ == "__main__":
    main()
