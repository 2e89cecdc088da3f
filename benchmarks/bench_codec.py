"""Benchmark: the uint16 shard codecs on real OSIE maps — bytes, coding and decoding time.

The same quantised maps ``q`` (the first ``--n`` stimuli of a shard set, decoded) are coded with the codec
written today (:data:`U16_CODEC`, residual = 2-D difference minus the row above's) and the two written
before and still read (:data:`U16_NIBBLES_CODEC`, residual = 2-D difference; :data:`U16_PLANES_CODEC`,
byte planes), each the best of ``--repeat`` passes in one process (CPU time per map). Printed per codec:
mean coded bytes and the ratio to float32 (4 bytes a pixel), the share of zero residuals and of escapes
(residuals ≥ 15 after zigzag), code and decode milliseconds per map. Every coding is decoded and checked
against ``q`` (lossless).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_codec.py --shards outputs/osie/shards
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saliency.shards import open_shards  # noqa: E402
from saliency.shards.schema import U16_CODEC, U16_NIBBLES_CODEC, U16_PLANES_CODEC  # noqa: E402
from saliency.shards.u16codec import ZSTD_LEVEL, U16Scratch, _code_nibbles, decode_u16, encode_u16  # noqa: E402


def _residuals(q: np.ndarray, column: bool) -> np.ndarray:
    """Zigzagged residuals of a codec (numpy, for the statistics only)."""
    p = np.pad(q.astype(np.int64), ((1, 0), (1, 0)))
    d = (p[1:, 1:] - p[1:, :-1] - p[:-1, 1:] + p[:-1, :-1]) & 0xFFFF
    if column:
        d = (d - np.pad(d, ((1, 0), (0, 0)))[:-1]) & 0xFFFF
    r = d.astype(np.uint16).view(np.int16).astype(np.int64)
    return ((r << 1) ^ (r >> 15)) & 0xFFFF


def _nibbles(m: np.ndarray, s: U16Scratch) -> bytes:
    """The nibble codec written before (2-D differences, no column step), through the same compiled coder."""
    n_esc = _code_nibbles(m, 1.0, s.q_prev, s.q_row, s.d_prev, s.z, s.nib, s.payload, False)
    size = (m.size + 1) // 2 + 2 * n_esc
    coded = pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(s.payload[:size])
    return b"".join((int(n_esc).to_bytes(4, "little"), memoryview(coded)))


def _planes(m: np.ndarray) -> bytes:
    z = _residuals(m.astype(np.uint16), column=False)
    planes = np.concatenate([(z & 0xFF).ravel(), (z >> 8).ravel()]).astype(np.uint8)
    return pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(planes, asbytes=True)


def _decode_all(data: list[bytes], qs: list[np.ndarray], enc: str) -> None:
    """Decode every map, each dropped before the next (as readers do: keeping them all alive would time
    the page faults of fresh memory instead)."""
    for q, d in zip(qs, data, strict=True):
        decode_u16(d, *q.shape, enc)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--n", type=int, default=100, help="maps (the first stimuli in sorted order)")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    ss = open_shards(a.shards)
    names = sorted(ss.stimuli)[: a.n]
    qs = []
    for s in names:
        stored = ss.stored_map(s)
        qs.append(stored if stored.dtype == np.uint16 else np.rint(stored / stored.max() * 65535).astype(np.uint16))
    ms = [q.astype(np.float32) for q in qs]      # what the coders quantise (peak 65535, scale 1: q again)
    h, w = qs[0].shape
    scratch = {shape: U16Scratch(*shape) for shape in {q.shape for q in qs}}
    coders = {
        U16_CODEC: lambda m: encode_u16(m, 1.0, scratch[m.shape], 65535.0).data,
        U16_NIBBLES_CODEC: lambda m: _nibbles(m, scratch[m.shape]),
        U16_PLANES_CODEC: _planes,  # its compiled coder is gone: this numpy one is slower
    }
    load0 = os.getloadavg()[0]
    print(f"{len(qs)} OSIE maps ({w}×{h}) from {a.shards}; best of {a.repeat}, CPU ms per map; "
          f"load average {load0:.2f}")
    for enc, code in coders.items():
        data = [code(m) for m in ms]
        for q, d in zip(qs, data, strict=True):
            assert np.array_equal(decode_u16(d, *q.shape, enc), q), enc
        t_code = _best(lambda code=code: [code(m) for m in ms], a.repeat) / len(qs) * 1e3
        t_dec = _best(lambda enc=enc, data=data: _decode_all(data, qs, enc), a.repeat) / len(qs) * 1e3
        z = [_residuals(q, column=enc == U16_CODEC) for q in qs]
        size = float(np.mean([len(d) for d in data]))
        print(f"  {enc:32s} {size:9.0f} B ({4 * h * w / size:5.1f}× smaller than float32)  "
              f"zero residuals {np.mean([np.mean(v == 0) for v in z]):5.1%}  "
              f"escapes {np.mean([np.mean(v >= 15) for v in z]):5.1%}  "
              f"code {t_code:5.2f} ms  decode {t_dec:5.2f} ms")


if __name__ == "__main__":
    main()
