"""Recording quality per observer and block (EyeLink !CAL VALIDATION, missing samples, blinks, fixations),
exclusion rules from the card or the command line applied at ingest and counted, and the report sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency.errors import ConfigError
from saliency.ingest import ingest
from saliency.readers.quality import LOSS_REASON, VALIDATION_REASON, QualityRules, eyelink_quality
from saliency.readers.request import ReadRequest


def _req() -> ReadRequest:
    return ReadRequest("el", stimulus="s.png", stimulus_size=(1920, 1080))


def test_eyelink_quality_reads_validation_loss_blinks_and_fixations(fixtures_dir: Path) -> None:
    (t,) = eyelink_quality(fixtures_dir / "eyelink" / "eyelink_binocular_example.asc")
    # MSG !CAL VALIDATION HV9 LR LEFT ... ERROR 0.41 avg. 0.64 max / RIGHT ... 0.31 avg. 0.84 max: the worse eye
    assert (t.validation_error_deg, t.validation_max_deg) == (0.41, 0.64)
    assert t.trial_id == "I902C_low" and t.observer == "eyelink_binocular_example"
    assert t.samples > 0 and 0 < t.missing_samples < t.samples and t.blinks == 1 and t.fixations >= 1
    text = (fixtures_dir / "eyelink" / "eyelink_binocular_example.asc").read_text().splitlines()
    samples = [ln.split() for ln in text[t.start_line - 1:t.end_line] if ln[:1].isdigit()]
    assert t.samples == len(samples)
    assert t.missing_samples == sum(s[1] == "." and s[4] == "." for s in samples)


def test_rules_exclude_trials_and_count_their_fixations(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = fixtures_dir / "eyelink"
    base = ingest("eyelink", [folder], dataset="el", out=None, request=_req(), workers=1)
    q = base.report["quality"]
    # trials as the reader numbers them: one per TRIALID (five in each monocular example), else per block
    assert q["n_trials"] == 12 and q["n_excluded"] == 0 and q["rules"]["max_tracking_loss"] is None
    table_trials = set(zip(base.table.data["observer"], base.table.data["trial"], strict=True))
    assert table_trials <= {(t["observer"], t["trial"]) for t in q["trials"]}
    lossy = {Path(t["file"]).name for t in q["trials"] if t["tracking_loss"] > 0.2}
    assert lossy                                                       # the fixtures have blinks
    res = ingest("eyelink", [folder], dataset="el", out=None, request=_req(), workers=1,
                 quality=QualityRules(max_tracking_loss=0.2))
    acc = res.report["accounting"]
    assert acc["dropped_by_reason"].get(LOSS_REASON, 0) == len(base.table) - len(res.table) > 0
    assert acc["kept"] + acc["dropped"] == acc["seen"] == base.report["accounting"]["seen"]
    assert {Path(s.rsplit(":", 1)[0]).name for s in res.table.data["source"]}.isdisjoint(lossy)
    # validation limit below the fixtures' 0.27-0.41 degrees excludes everything that has a validation
    strict = ingest("eyelink", [folder], dataset="el", out=None, request=_req(), workers=1,
                    quality=QualityRules(max_validation_error_deg=0.2))
    assert len(strict.table) == 0 and strict.report["quality"]["excluded_by_reason"] == {VALIDATION_REASON: 12}


def test_rules_come_from_the_card_and_the_command_line_wins(fixtures_dir: Path, tmp_path: Path) -> None:
    card = tmp_path / "el.toml"
    card.write_text('name = "el"\n[quality]\nmax_validation_error_deg = 0.3\nmax_tracking_loss = 0.2\n')
    res = ingest("eyelink", [fixtures_dir / "eyelink"], dataset="el", out=None, request=_req(), card=card, workers=1)
    assert res.report["quality"]["rules"] == {"max_validation_error_deg": 0.3, "max_tracking_loss": 0.2}
    assert res.report["quality"]["excluded_by_reason"] == {VALIDATION_REASON: 1, LOSS_REASON: 1}
    loose = ingest("eyelink", [fixtures_dir / "eyelink"], dataset="el", out=None, request=_req(), card=card,
                   workers=1, quality=QualityRules(max_validation_error_deg=1.0, max_tracking_loss=0.5))
    assert loose.report["quality"]["n_excluded"] == 0
    with pytest.raises(ConfigError, match="fraction"):
        QualityRules(max_tracking_loss=20)
    with pytest.raises(ConfigError, match="EyeLink, Tobii"):
        ingest("doves", [fixtures_dir / "doves" / "img001.mat"], dataset="d", out=None, workers=1,
               quality=QualityRules(max_tracking_loss=0.2))


def test_quality_section_in_the_html_report(fixtures_dir: Path) -> None:
    from saliency.reports.report import _quality_section

    res = ingest("eyelink", [fixtures_dir / "eyelink"], dataset="el", out=None, request=_req(), workers=1,
                 quality=QualityRules(max_tracking_loss=0.2))
    html = _quality_section(res.report["quality"])
    assert "Recording quality (12 trials, 1 excluded" in html and "I902C_low" in html and LOSS_REASON in html
    assert _quality_section(None) == ""


def test_tobii_tracking_loss_per_participant_and_exclusion(fixtures_dir: Path, tmp_path: Path) -> None:
    """Blank the gaze of half of participant 02's samples: 50 % loss, excluded at ingest, counted."""
    from saliency.readers.quality import tobii_quality

    lines = (fixtures_dir / "tobii" / "studio_export.csv").read_text().splitlines()
    header = lines[0].split(",")
    gx, gy, who = header.index("GazePointX(ADCSpx)"), header.index("GazePointY(ADCSpx)"), header.index("ParticipantName")
    rows = [i for i, ln in enumerate(lines[1:], start=1) if ln.split(",")[who] == "02"]
    for i in rows[: len(rows) // 2]:
        cells = lines[i].split(",")
        cells[gx] = cells[gy] = ""
        lines[i] = ",".join(cells)
    p = tmp_path / "export.csv"
    p.write_text("\n".join(lines) + "\n")
    q = {t.observer: t for t in tobii_quality(p)}
    assert len(q) == 20 and q["02"].tracking_loss >= 0.5 and q["02"].samples == len(rows)
    assert q["00"].missing_samples == 19 and q["00"].blinks == 4 and q["03"].fixations == 5
    req = ReadRequest("t", stimulus="img.png", stimulus_size=(562, 762))
    base = ingest("tobii", [p], dataset="t", out=None, request=req, workers=1)
    res = ingest("tobii", [p], dataset="t", out=None, request=req, workers=1,
                 quality=QualityRules(max_tracking_loss=0.2))
    assert set(base.table.data["observer"]) - set(res.table.data["observer"]) == {"02"}
    n02 = int((base.table.data["observer"] == "02").sum())
    assert res.report["accounting"]["dropped_by_reason"][LOSS_REASON] == n02 > 0
    assert res.report["quality"]["excluded_by_reason"] == {LOSS_REASON: 1}
