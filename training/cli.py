"""The ``train``, ``export``, ``evaluate`` and ``publish`` subcommands of ``civicwatch``.

The lead's CLI calls :func:`add_parser` with its subparsers; each subcommand sets
``func(args) -> int``. ``python -m training.cli ...`` runs the same commands standalone.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from training.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError, TrainConfig, load_config

logger = logging.getLogger(__name__)

DEFAULT_EDGE_CONFIG = REPO_ROOT / "configs" / "edge.yaml"


def _load(args: argparse.Namespace) -> int | None:
    try:
        args.config_obj = load_config(Path(args.config))
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return None


def _checkpoint(args: argparse.Namespace, config: TrainConfig) -> Path | None:
    """``--weights``, or the run's ``best.pt``; ``None`` (error written) if it does not exist."""
    weights = (
        Path(args.weights)
        if args.weights
        else config.runs_dir / config.name / "weights" / "best.pt"
    )
    if not weights.is_file():
        sys.stderr.write(f"error: checkpoint {weights} not found (train first or pass --weights)\n")
        return None
    return weights


def _train(args: argparse.Namespace) -> int:
    if (code := _load(args)) is not None:
        return code
    from training.train import export_onnx, train

    config = args.config_obj
    init = None
    if args.init:
        from edge.registry import ModelVerificationError, RegistryError
        from training.review_data import resolve_start

        try:
            init = resolve_start(args.init)
        except (RegistryError, ModelVerificationError) as exc:
            sys.stderr.write(f"error: --from {args.init}: {exc}\n")
            return 2
    if args.data:
        from training.review_data import ExportDataError, load_export

        try:
            load_export(Path(args.data))
        except ExportDataError as exc:
            sys.stderr.write(f"error: --data: {exc}\n")
            return 2
    result = train(
        config,
        resume=args.resume,
        epochs=args.epochs,
        init=init,
        lr0=args.lr0,
        name=args.name,
        data=Path(args.data) if args.data else None,
        rendered_ratio=args.rendered_ratio,
        export_repeat=args.export_repeat,
        imgsz=args.imgsz,
        fraction=args.fraction,
    )
    sys.stdout.write(
        f"best checkpoint {result.best}: mAP50 {result.map50:.3f}, mAP50-95 {result.map50_95:.3f}, "
        f"{result.wall_s:.0f} s\n"
    )
    if args.export:
        out = export_onnx(config, result.best, config.export.output)
        sys.stdout.write(f"exported {out}\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    if (code := _load(args)) is not None:
        return code
    from training.train import export_onnx

    config = args.config_obj
    if (weights := _checkpoint(args, config)) is None:
        return 2
    out = export_onnx(config, weights, Path(args.out) if args.out else config.export.output)
    sys.stdout.write(f"exported {out}\n")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.real:
        return _evaluate_real(args)
    if (code := _load(args)) is not None:
        return code
    from training.evaluate import evaluate_holdout

    config = args.config_obj
    model = Path(args.model) if args.model else config.export.output
    if not model.is_file():
        sys.stderr.write(f"error: model {model} not found\n")
        return 2
    report = evaluate_holdout(config, model)
    text = report.model_dump_json(indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    sys.stdout.write(report.table() + "\n")
    logger.debug("evaluation %s", json.loads(text)["map50"])
    return 0


def _evaluate_real(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfigError
    from edge.registry import ModelVerificationError, RegistryError, load_registry
    from training.real_eval.data import (
        RealDataError,
        edge_settings,
        find_real_data,
        registry_models,
        road_model,
        teacher_model,
    )
    from training.real_eval.run import evaluate_real
    from training.real_eval.table import render_real_table

    root = Path(args.data) if args.data else _shared_data()
    try:
        data = find_real_data(root)
        settings = edge_settings(Path(args.edge_config))
        teacher = teacher_model(root)
        models = registry_models(load_registry(), args.real_model or None)
        road = road_model(settings)  # the road profile's own detector, if the config sets one
    except RealDataError as exc:
        sys.stderr.write(f"skipped: {exc}\n")
        return 3
    except (EdgeConfigError, RegistryError, ModelVerificationError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    argv = sys.argv
    start = argv.index("evaluate") if "evaluate" in argv else len(argv)
    command = shlex.join(["civicwatch", *argv[start:]]) if start < len(argv) else "(API)"
    report = evaluate_real(
        [*models, *([road] if road is not None else []), *([] if args.no_teacher else [teacher])],
        data,
        settings,
        teacher_path=teacher.path,
        clip_limit=args.clip_frames,
        command=command,
    )
    table = render_real_table(report)
    if args.out:
        Path(args.out).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(report.model_dump_json(indent=2) + "\n")
    sys.stdout.write(table + "\n")
    return 0


def _publish(args: argparse.Namespace) -> int:
    if (code := _load(args)) is not None:
        return code
    from training.publish import GateMismatchError, publish
    from training.real_eval.gate import DefaultRefusedError

    config = args.config_obj
    if (weights := _checkpoint(args, config)) is None:
        return 2
    real = Path(args.real_data) if args.real_data else _shared_data()
    try:
        report = publish(
            config,
            weights,
            name=args.name,
            version=args.version,
            real_data=real,
            int8=not args.no_int8,
            commands=args.command or None,
            earlier_runs=[Path(p).resolve() for p in args.earlier_run],
            notes=args.note,
            make_default=args.make_default,
            force_default=args.force_default,
            gate_report=Path(args.gate_report) if args.gate_report else None,
        )
    except (DefaultRefusedError, GateMismatchError) as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return 2
    if args.json:
        Path(args.json).write_text(report.model_dump_json(indent=2) + "\n")
    sys.stdout.write(
        report.holdout.table() + f"\n\ncard: {report.card}\nregistry: {report.registry}\n"
    )
    return 0


def _shared_data() -> Path:
    import os

    from training.config import REPO_ROOT

    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train``, ``export``, ``evaluate`` and ``publish`` on ``subparsers``."""
    t = subparsers.add_parser(
        "train", help="render the synthetic data and train the detector (offline)"
    )
    t.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="training config (configs/train.yaml)"
    )
    t.add_argument("--epochs", type=int, default=None, help="override the configured epochs")
    t.add_argument("--resume", action="store_true", help="continue the interrupted run")
    t.add_argument(
        "--from",
        dest="init",
        default=None,
        help="start from this checkpoint's weights: a .pt, a deployed .onnx model, 'default' "
        "(the registry's default) or a registered NAME[@VERSION] (continued training, no "
        "warm-up)",
    )
    t.add_argument(
        "--data",
        default=None,
        metavar="EXPORT",
        help="a 'civicwatch dataset export' folder: its train frames are mixed with the "
        "rendered scenes (its test split is never trained on)",
    )
    t.add_argument(
        "--rendered-ratio",
        type=float,
        default=3.0,
        help="(--data) rendered scenes per export frame in the training list (3.0)",
    )
    t.add_argument(
        "--export-repeat",
        type=int,
        default=1,
        help="(--data) how often each export training frame is listed (1)",
    )
    t.add_argument("--imgsz", type=int, default=None, help="override the training input size")
    t.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="train on this fraction of the training list (short CPU runs)",
    )
    t.add_argument("--lr0", type=float, default=None, help="override the initial learning rate")
    t.add_argument("--name", default=None, help="override the run name")
    t.add_argument("--export", action="store_true", help="export the best checkpoint to ONNX after")
    t.set_defaults(func=_train)

    e = subparsers.add_parser("export", help="export a trained checkpoint to ONNX with metadata")
    e.add_argument("--config", default=str(DEFAULT_CONFIG), help="training config")
    e.add_argument("--weights", default=None, help="checkpoint (default: the run's best.pt)")
    e.add_argument("--out", default=None, help="ONNX path (default: export.output)")
    e.set_defaults(func=_export)

    v = subparsers.add_parser(
        "evaluate",
        help="mAP and per-class P/R of an ONNX model on held-out scenes, run through the "
        "edge's own detector plugin",
    )
    v.add_argument("--config", default=str(DEFAULT_CONFIG), help="training config")
    v.add_argument("--model", default=None, help="ONNX model (default: export.output)")
    v.add_argument("--json", default=None, help="also write the report as JSON here")
    v.add_argument(
        "--real",
        action="store_true",
        help="the real-image table instead: registered models and the COCO teacher on the real "
        "clips and photos of the shared data, with the edge's own code and settings",
    )
    v.add_argument(
        "--data",
        default=None,
        help="(--real) shared data folder (default: $CIVICWATCH_SHARED_DATA or ../shared/data)",
    )
    v.add_argument(
        "--real-model",
        action="append",
        default=[],
        metavar="NAME[@VERSION]",
        help="(--real) registered model to evaluate (repeat; default: every live model, the "
        "default first)",
    )
    v.add_argument(
        "--edge-config",
        default=str(DEFAULT_EDGE_CONFIG),
        help="(--real) edge config whose confidence, analysis_fps and muck-truck settings apply",
    )
    v.add_argument(
        "--clip-frames",
        type=int,
        default=None,
        help="(--real) analyse at most this many frames per clip (default: all at analysis_fps)",
    )
    v.add_argument("--no-teacher", action="store_true", help="(--real) leave out the teacher row")
    v.add_argument("--out", default=None, help="(--real) also write the Markdown table here")
    v.set_defaults(func=_evaluate)

    p = subparsers.add_parser(
        "publish", help="export, evaluate, register a checkpoint and write its model card"
    )
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="training config")
    p.add_argument("--weights", default=None, help="checkpoint (default: the run's best.pt)")
    p.add_argument("--name", default="civicwatch-street", help="registry name")
    p.add_argument("--version", default="1", help="registry version")
    p.add_argument(
        "--real-data",
        default=None,
        help="shared data folder (default: $CIVICWATCH_SHARED_DATA or ../shared/data)",
    )
    p.add_argument("--no-int8", action="store_true", help="skip the int8 copy and its evaluation")
    p.add_argument("--json", default=None, help="also write the full report as JSON here")
    p.add_argument(
        "--command",
        action="append",
        default=[],
        help="exact command of a training stage, in order (repeat per stage)",
    )
    p.add_argument(
        "--earlier-run",
        action="append",
        default=[],
        help="run folder of an earlier stage that the checkpoint's run continued from",
    )
    p.add_argument("--note", action="append", default=[], help="provenance note for the card")
    p.add_argument(
        "--make-default",
        action="store_true",
        help="make it the registry's default if it is not worse than the current default on "
        "the real table (training.real_eval.gate)",
    )
    p.add_argument(
        "--force-default",
        action="store_true",
        help="with --make-default: make it the default even if the gate finds it worse (the "
        "card records this and why)",
    )
    p.add_argument(
        "--gate-report",
        default=None,
        metavar="JSON",
        help="a 'civicwatch models gate' report: the ONNX file it judged is published (not "
        "exported again) and the report recorded in the card and the registry (a failed gate "
        "refuses --make-default)",
    )
    p.set_defaults(func=_publish)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m training.cli {train,export,evaluate}``."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="python -m training.cli")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
