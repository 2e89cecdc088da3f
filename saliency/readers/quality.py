"""Recording quality of a study's own data, per observer and trial, and exclusion rules.

:func:`eyelink_quality` scans an EyeLink ASC file (text; independent of the fixation reader, which it does
not touch) into one :class:`TrialQuality` per trial, trials delimited as the reader delimits them: from a
``TRIALID`` message to the next ``TRIALID`` or a ``TRIAL_RESULT`` (numbered 0, 1, … in file order, the
table's ``trial``), or, in a file without ``TRIALID``, one per recording block (``START`` … ``END``):

* ``validation_error_deg`` / ``validation_max_deg``: the tracker's own accuracy check, the most recent
  ``MSG … !CAL VALIDATION … ERROR <avg> avg. <max> max`` before the trial; with both eyes validated the
  worse eye counts. None when the file has no validation before the trial.
* ``samples``, ``missing_samples``, ``tracking_loss`` (missing / samples): a sample line is *missing* when no
  recorded eye (``START`` names them) has a gaze position (``.`` in x or y; EyeLink writes that during
  blinks and tracking loss).
* ``blinks`` and ``blink_ms``: ``EBLINK`` events (per eye; the eye with more counts), summed durations.
* ``fixations`` and ``mean_fixation_ms``: ``EFIX`` events (the eye with more fixations counts).

:func:`tobii_quality` gives the same rows for Tobii Studio / Pro Lab exports (one per participant,
recording and media; see its docstring for what Tobii exports).

:class:`QualityRules` (``max_validation_error_deg``, ``max_tracking_loss`` as a fraction 0–1) decide which
trials are excluded; :func:`apply_quality_rules` drops the table rows whose ``source`` line lies in an
excluded trial and counts them like every other drop (reasons :data:`VALIDATION_REASON`,
:data:`LOSS_REASON`). Rules come from the dataset card's ``[quality]`` table or the command line
(``saliency ingest … --max-validation-error 1 --max-tracking-loss 0.2``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from saliency.errors import ConfigError

if TYPE_CHECKING:
    from saliency.fixations.accounting import Accounting
    from saliency.fixations.table import FixationTable

VALIDATION_REASON = "trial validation error above limit"
LOSS_REASON = "trial tracking loss above limit"
_VALIDATION = re.compile(r"!CAL\s+VALIDATION\b.*?\b(LEFT|RIGHT)\b.*?ERROR\s+([\d.]+)\s+avg\.\s+([\d.]+)\s+max",
                         re.IGNORECASE)
_TRIALID = re.compile(r"\bTRIALID\s+(.*)$")


@dataclass
class TrialQuality:
    """One trial of one file (see the module docstring); ``trial`` numbers them 0, 1, … in file order;
    ``start_line``/``end_line`` (1-based, inclusive) are the lines it spans."""

    file: str
    observer: str
    trial: int
    trial_id: str | None
    start_line: int
    end_line: int
    validation_error_deg: float | None
    validation_max_deg: float | None
    samples: int
    missing_samples: int
    blinks: int
    blink_ms: float
    fixations: int
    mean_fixation_ms: float | None
    excluded: str | None = None

    @property
    def tracking_loss(self) -> float:
        return self.missing_samples / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tracking_loss"] = round(self.tracking_loss, 6)
        return d


def _num(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def eyelink_quality(path: str | Path, observer: str | None = None, encoding: str = "utf-8") -> list[TrialQuality]:
    """Per-trial quality of one EyeLink ASC file (module docstring)."""
    path = Path(path)
    observer = observer or path.stem
    with open(path, encoding=encoding, errors="replace") as fh:
        by_trialid = any("TRIALID" in ln for ln in fh)
    out: list[TrialQuality] = []
    validation: dict[str, tuple[float, float]] = {}
    last_was_validation = False
    seg: dict[str, Any] | None = None
    eyes = 1
    lineno = 0

    def opened(line_no: int, trial_id: str | None) -> dict[str, Any]:
        worst = max(validation.values(), key=lambda v: v[0]) if validation else None
        return {"start": line_no, "val": worst, "samples": 0, "missing": 0, "blinks": {}, "blink_ms": {},
                "fix": {}, "fix_ms": {}, "trial_id": trial_id}

    with open(path, encoding=encoding, errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            tok = line.split()
            if not tok:
                continue
            head = tok[0]
            if head == "MSG":
                m = _VALIDATION.search(line)
                if m:
                    if not last_was_validation:
                        validation = {}
                    validation[m.group(1).upper()] = (float(m.group(2)), float(m.group(3)))
                    last_was_validation = True
                    continue
                last_was_validation = False
                if by_trialid:
                    t = _TRIALID.search(line)
                    if t:
                        if seg is not None:
                            out.append(_close(seg, lineno - 1, str(path), observer, len(out)))
                        seg = opened(lineno, t.group(1).strip())
                    elif "TRIAL_RESULT" in line and seg is not None:
                        out.append(_close(seg, lineno, str(path), observer, len(out)))
                        seg = None
                continue
            last_was_validation = False
            if head == "START":
                eyes = 2 if sum(t.upper() in ("LEFT", "RIGHT") for t in tok) == 2 else 1
                if not by_trialid:
                    seg = opened(lineno, None)
                continue
            if head == "END":
                if not by_trialid and seg is not None:
                    out.append(_close(seg, lineno, str(path), observer, len(out)))
                    seg = None
                continue
            if seg is None:
                continue
            if head == "EBLINK" and len(tok) >= 5:
                eye = tok[1]
                seg["blinks"][eye] = seg["blinks"].get(eye, 0) + 1
                seg["blink_ms"][eye] = seg["blink_ms"].get(eye, 0.0) + float(tok[4])
            elif head == "EFIX" and len(tok) >= 5:
                eye = tok[1]
                seg["fix"][eye] = seg["fix"].get(eye, 0) + 1
                seg["fix_ms"][eye] = seg["fix_ms"].get(eye, 0.0) + float(tok[4])
            elif _num(head):
                seg["samples"] += 1
                pairs = [tok[1:3]] + ([tok[4:6]] if eyes == 2 else [])
                if not any(len(p) == 2 and p[0] != "." and p[1] != "." for p in pairs):
                    seg["missing"] += 1
    if seg is not None:             # the last trial runs to the end of the file
        out.append(_close(seg, lineno, str(path), observer, len(out)))
    return out


def _close(b: dict[str, Any], end: int, file: str, observer: str, index: int) -> TrialQuality:
    fix_eye = max(b["fix"], key=b["fix"].get) if b["fix"] else None
    blink_eye = max(b["blinks"], key=b["blinks"].get) if b["blinks"] else None
    return TrialQuality(
        file=file, observer=observer, trial=index, trial_id=b["trial_id"], start_line=b["start"], end_line=end,
        validation_error_deg=b["val"][0] if b["val"] else None, validation_max_deg=b["val"][1] if b["val"] else None,
        samples=b["samples"], missing_samples=b["missing"],
        blinks=b["blinks"].get(blink_eye, 0) if blink_eye else 0,
        blink_ms=float(b["blink_ms"].get(blink_eye, 0.0)) if blink_eye else 0.0,
        fixations=b["fix"].get(fix_eye, 0) if fix_eye else 0,
        mean_fixation_ms=(b["fix_ms"][fix_eye] / b["fix"][fix_eye]) if fix_eye else None)


_TOBII_GAZE = (("GazePointX (ADCSpx)", "GazePointY (ADCSpx)"), ("Gaze point X", "Gaze point Y"),
               ("GazePointX", "GazePointY"))
_TOBII_ACCURACY = ("Average validation accuracy (degrees)", "Average calibration accuracy (degrees)")


def tobii_quality(path: str | Path, observer: str | None = None, encoding: str = "utf-8") -> list[TrialQuality]:
    """Per-trial quality of a Tobii Studio / Pro Lab sample export.

    A trial is a contiguous run of rows with the same participant, recording and media. ``tracking_loss``:
    samples without a gaze point (``GazePointX/Y (ADCSpx)`` or Pro Lab's ``Gaze point X/Y`` empty);
    ``blinks``: runs of such samples (Tobii exports no blink events; a run is a blink or a loss episode);
    ``blink_ms``: their summed duration from the timestamps; ``fixations`` / ``mean_fixation_ms``: Tobii's
    fixation filter (``GazeEventType`` = Fixation, one per fixation index); ``validation_error_deg``: Pro
    Lab's ``Average validation accuracy (degrees)`` (else calibration accuracy) when exported, else None.
    """
    import pandas as pd

    from saliency.readers.generic import load_source
    from saliency.readers.tobii import _norm, find_columns

    path = Path(path)
    src = load_source(path, encoding=encoding)
    if len(src) == 0:
        return []
    f = src.frame
    cols = find_columns(list(f.columns), {})
    by_norm = {_norm(c): c for c in f.columns}
    gaze = next(((by_norm[_norm(a)], by_norm[_norm(b)]) for a, b in _TOBII_GAZE
                 if _norm(a) in by_norm and _norm(b) in by_norm), None)
    acc_col = next((by_norm[_norm(a)] for a in _TOBII_ACCURACY if _norm(a) in by_norm), None)
    keys = [f[cols[r]].astype(str).str.strip() for r in ("observer", "recording", "stimulus") if r in cols]
    if not keys:
        return []
    key = pd.Series(list(zip(*keys, strict=True)), index=f.index)
    run = (key != key.shift()).cumsum().to_numpy()
    t = pd.to_numeric(f[cols["t"]].astype(str).str.strip(), errors="coerce").to_numpy() if "t" in cols else None
    missing = (np.ones(len(f), bool) if gaze is None else
               (f[gaze[0]].astype(str).str.strip().isin(["", "nan"]) |
                f[gaze[1]].astype(str).str.strip().isin(["", "nan"])).to_numpy())
    lines = src.lines if src.lines is not None else np.arange(len(f)) + 2
    out: list[TrialQuality] = []
    for r in np.unique(run):
        idx = np.flatnonzero(run == r)
        k = key.iat[idx[0]]
        miss = missing[idx]
        starts = np.flatnonzero(miss & ~np.r_[False, miss[:-1]])
        gap_ms = 0.0
        if t is not None and miss.any():
            ends = np.flatnonzero(miss & ~np.r_[miss[1:], False])
            tt = t[idx]
            gap_ms = float(np.nansum(tt[np.minimum(ends + 1, len(tt) - 1)] - tt[starts]))
        fix, fix_ms = 0, None
        if "type" in cols and "fixation" in cols:
            sub = f.iloc[idx]
            is_fix = sub[cols["type"]].astype(str).str.strip().str.lower() == "fixation"
            ids = sub.loc[is_fix, cols["fixation"]].astype(str).str.strip()
            fix = int(ids.nunique())
            if fix and "duration" in cols:
                d = pd.to_numeric(sub.loc[is_fix, cols["duration"]].astype(str).str.strip(), errors="coerce")
                fix_ms = float(d.groupby(ids.to_numpy()).first().mean())
        val = None
        if acc_col is not None:
            v = pd.to_numeric(f[acc_col].iloc[idx].astype(str).str.strip(), errors="coerce").dropna()
            val = float(v.iloc[0]) if len(v) else None
        out.append(TrialQuality(
            file=str(path), observer=observer or str(k[0]), trial=len(out),
            trial_id=" / ".join(str(x) for x in k[1:]) or None, start_line=int(lines[idx[0]]),
            end_line=int(lines[idx[-1]]), validation_error_deg=val, validation_max_deg=None, samples=len(idx),
            missing_samples=int(miss.sum()), blinks=len(starts), blink_ms=gap_ms, fixations=fix,
            mean_fixation_ms=fix_ms))
    return out


QUALITY_SCANNERS = {"eyelink": eyelink_quality, "tobii": tobii_quality}


@dataclass(frozen=True)
class QualityRules:
    """Exclusion limits (None = no limit): validation error in degrees, tracking loss as a fraction 0–1."""

    max_validation_error_deg: float | None = None
    max_tracking_loss: float | None = None

    def __post_init__(self) -> None:
        v, loss = self.max_validation_error_deg, self.max_tracking_loss
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"max_validation_error_deg must be a positive number of degrees, got {v!r}")
        if loss is not None and not (0 <= loss <= 1):
            raise ConfigError(f"max_tracking_loss is a fraction between 0 and 1 (0.2 = 20 %), got {loss!r}")

    @property
    def active(self) -> bool:
        return self.max_validation_error_deg is not None or self.max_tracking_loss is not None

    @classmethod
    def from_card(cls, raw: Mapping[str, Any] | None) -> QualityRules:
        q = dict((raw or {}).get("quality", {}))
        bad = set(q) - {"max_validation_error_deg", "max_tracking_loss"}
        if bad:
            raise ConfigError(f"dataset card [quality]: unknown keys {sorted(bad)}; known: max_validation_error_deg, "
                              "max_tracking_loss")
        return cls(q.get("max_validation_error_deg"), q.get("max_tracking_loss"))

    def reason(self, t: TrialQuality) -> str | None:
        """Why ``t`` is excluded under these rules (None: kept)."""
        v = self.max_validation_error_deg
        if v is not None and t.validation_error_deg is not None and t.validation_error_deg > v:
            return VALIDATION_REASON
        if self.max_tracking_loss is not None and t.tracking_loss > self.max_tracking_loss:
            return LOSS_REASON
        return None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def apply_quality_rules(table: FixationTable, trials: list[TrialQuality], rules: QualityRules,
                        accounting: Accounting | None = None) -> FixationTable:
    """Drop the rows of excluded trials (sets ``TrialQuality.excluded``); drops are counted per file and reason."""
    from saliency.fixations.filters import drop_rows

    if not rules.active or not len(table):
        for t in trials:
            t.excluded = None
        return table
    parts = table.data["source"].astype(str).str.extract(r"^(.*):(\d+)$")
    file_of = parts[0].fillna("").to_numpy()
    line_of = parts[1].fillna(-1).astype(int).to_numpy()
    reason = np.full(len(table), None, dtype=object)
    for t in trials:
        t.excluded = rules.reason(t)
        if t.excluded is not None:
            reason[(file_of == t.file) & (line_of >= t.start_line) & (line_of <= t.end_line)] = t.excluded
    for r in (VALIDATION_REASON, LOSS_REASON):
        mask = reason == r
        if mask.any():
            table = drop_rows(table, mask, r, accounting)
            reason = reason[~mask]
    return table


def quality_summary(trials: list[TrialQuality], rules: QualityRules) -> dict[str, Any]:
    """The ingest report's ``quality`` section: rules, per-trial rows, totals."""
    val = [t.validation_error_deg for t in trials if t.validation_error_deg is not None]
    return {
        "rules": rules.to_dict(),
        "trials": [t.to_dict() for t in trials],
        "n_trials": len(trials),
        "n_excluded": sum(t.excluded is not None for t in trials),
        "excluded_by_reason": {r: sum(t.excluded == r for t in trials)
                               for r in sorted({t.excluded for t in trials if t.excluded})},
        "validation_error_deg_mean": float(np.mean(val)) if val else None,
        "tracking_loss_mean": float(np.mean([t.tracking_loss for t in trials])) if trials else None,
    }
