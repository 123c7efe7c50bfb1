"""The real table: one row per model, in Markdown, with how it was measured.

:func:`render_real_table` prints a :class:`~training.real_eval.run.RealEvalReport` for the model
cards and ``bench/RESULTS.md``.
"""

from __future__ import annotations

from edge.rules.cover import LOAD_TOP_FRACTION
from training.real_eval.records import ModelRealReport, RealSummary
from training.real_eval.run import TEACHER_CONFIDENCE, RealEvalReport

PLATES_NOTE = (
    "no 'plates read exactly' column yet: the plate reader (edge/plates) was not part of the "
    "committed tree when this evaluation was written"
)


def _frac(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.0f} %)" if n else "-"


def _agreement(s: RealSummary) -> str:
    if not s.agreement:
        return "(reference)"
    model = sum(a.model_boxes for a in s.agreement)
    teacher = sum(a.teacher_boxes for a in s.agreement)
    matched = sum(a.matched for a in s.agreement)
    precision = f"{matched / model:.2f}" if model else "-"
    recall = f"{matched / teacher:.2f}" if teacher else "-"
    return f"{precision} / {recall} ({matched} of {model} / {teacher})"


def summary_rows(summaries: list[RealSummary]) -> list[str]:
    """The main table: header and one row per model."""
    rows = [
        "| model | stall/goods box on no-violation clip frames | false boxes per camera-hour "
        "| truck found | cover decided (loaded) | right / wrong | wrongly accused "
        "| person/car/truck P / R vs teacher (matched of model / teacher boxes) "
        "| stall/goods found (photos showing them) | bare soil found "
        "| stall/goods on photos without | ms/frame |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        soil = "n/a" if s.soil_found is None else _frac(s.soil_found, s.soil_photos)
        rows.append(
            f"| {s.model} | {_frac(s.false_frames, s.clip_frames)} | {s.false_per_hour:.0f} "
            f"| {_frac(s.trucks_found, s.trucks)} | {_frac(s.decided, s.loaded)} "
            f"| {s.right} / {s.decided - s.right} | {s.wrongly_accused} of {s.accusable} "
            f"| {_agreement(s)} | {_frac(s.stall_found, s.stall_photos)} | {soil} "
            f"| {_frac(s.clean_false, s.clean_photos)} | {s.ms_per_frame:.0f} |"
        )
    return rows


def detail_rows(models: list[ModelRealReport]) -> list[str]:
    """Per clip (false frames) and per truck photo (truck score, p(uncovered), verdict)."""
    if not models:
        return []
    head = "| file | " + " | ".join(m.model for m in models) + " |"
    rule = "|---|" + "---:|" * len(models)
    rows = [head, rule]
    for k, clip in enumerate(models[0].clips):
        cells = [f"{m.clips[k].false_frames}/{m.clips[k].frames} frames" for m in models]
        rows.append(f"| {clip.file} | " + " | ".join(cells) + " |")
    for k, photo in enumerate(models[0].trucks):
        cells = []
        for m in models:
            t = m.trucks[k]
            if t.truck_confidence is None:
                cells.append("no truck")
                continue
            p = "too small" if t.p_uncovered is None else f"p {t.p_uncovered:.2f}"
            cells.append(f"truck {t.truck_confidence:.2f}, {p}, {t.verdict or 'unsure'}")
        rows.append(f"| {photo.file} (folder {photo.folder}) | " + " | ".join(cells) + " |")
    return rows


def render_real_table(report: RealEvalReport, *, details: bool = True) -> str:
    """The real table with the date, machine, command and how each column is counted."""
    s = report.settings
    band = s.muck_truck
    clips = report.models[0].clips if report.models else []
    seconds = sum(c.seconds for c in clips)
    cap = (
        f"at most {report.clip_limit} frames per clip"
        if report.clip_limit is not None
        else "every analysed frame"
    )
    lines = [
        f"Measured {report.date} on {report.machine} with `{report.command}` "
        f"(shared data `{report.data}`, edge settings from `{s.source}`).",
        "",
        *summary_rows(report.summaries),
        "",
        f"* No-violation clips: {', '.join(f'`{c.file}`' for c in clips) or 'none'} "
        f"(real_footage.yaml: no stall, no goods), thinned as the edge does to its analysis "
        f"rate of {s.analysis_fps:g} frames/s ({cap}: {sum(c.frames for c in clips)} frames "
        f"over {seconds:.0f} s of camera time), through the edge's Analyzer (detector, label map, "
        f"tracker) at its confidence {s.confidence:g} (NMS IoU {s.iou:g}). Every stall or goods "
        "box there is false; per camera-hour = false boxes / camera time at that rate.",
        f"* Truck photos: `images/truck_checkpoint`, one heavy truck each, identical files "
        f"counted once. Truck found: any truck box. Cover: the largest truck box's load region "
        f"(top {LOAD_TOP_FRACTION:.0%} of the box) through `{band.cover_model}`; one photo is "
        f"one frame, so its one vote is the verdict: uncovered at p >= {band.uncovered_p:g}, "
        f"covered at p <= {band.covered_p:g}, unsure between (the edge wants {band.votes} of "
        f"{band.window} frames). Decided and right/wrong count loaded trucks (folders 1-3); "
        "folder 3 should be uncovered, folders 1 (partly covered) and 2 covered. **Wrongly "
        "accused**: an uncovered verdict on an empty (0), partly covered (1) or covered (2) truck.",
        f"* Agreement: the model's person/car/truck boxes against the COCO teacher's "
        f"(`weights/yolov8n_int8.onnx`, yolo plugin) boxes scoring >= {TEACHER_CONFIDENCE:g}, "
        "one-to-one at IoU 0.5, on every clip frame and photo above; the teacher row maps "
        "COCO truck/bus/train to truck and umbrella/dining table/chair to stall.",
        "* Photos: those described in `training/real_footage.yaml` (present = shows); "
        "'photos without' are those neither showing nor arguably showing a stall or goods, "
        "the truck photos included.",
        f"* {PLATES_NOTE}.",
    ]
    if (road := s.road_detector) is not None:
        lines.insert(
            -1,
            f"* Road profile row: `{road.path}` through the `{road.type}` plugin at its own "
            f"confidence {road.confidence:g} (NMS IoU {road.iou:g}) and the edge's label map, as "
            "`profile: road` cameras run it (`scheduling.road_detector`); same clips, photos and "
            "cover stage as the other rows.",
        )
    if details:
        lines += ["", *detail_rows(report.models)]
    return "\n".join(lines)
