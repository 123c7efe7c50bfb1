"""``civicwatch models gate``: contributed to the ``models`` group of the ``civicwatch`` CLI."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from training.config import DEFAULT_CONFIG, REPO_ROOT

logger = logging.getLogger(__name__)

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gate`` to the ``models`` group's actions."""
    gate = commands.add_parser(
        "gate",
        help="may a candidate replace the current model? (reviewed cases, scenes, real table)",
        description=(
            "Run the candidate and the current model, each through the edge's own detector, "
            "on the frozen test split of a reviewed-case export (at the edge config's "
            "confidence), the held-out rendered scenes of the training config and the "
            "real-image table of the shared data (skipped with the reason when absent). "
            "Passes only when the candidate makes fewer false cases on the reviewed split "
            "(and no more false boxes on the real no-violation clips) and loses no more than "
            "1 point of recall anywhere. Writes OUT.json and OUT.md ('civicwatch publish "
            "--gate-report OUT.json' records it). Exit 0: passed; 1: failed; 2: bad input."
        ),
    )
    gate.add_argument(
        "--candidate",
        required=True,
        help="the new model: an .onnx file or a registered NAME[@VERSION]",
    )
    gate.add_argument(
        "--against",
        default="default",
        help="the current model: an .onnx file, 'default' (the registry's) or NAME[@VERSION]",
    )
    gate.add_argument(
        "--split",
        required=True,
        metavar="EXPORT",
        help="a 'civicwatch dataset export' folder: its test split is the frozen split",
    )
    gate.add_argument(
        "--split-name",
        default="test",
        choices=["test", "val", "train"],
        help="which of the export's splits to use (test)",
    )
    gate.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help="training config (its held-out scenes)"
    )
    gate.add_argument(
        "--edge-config",
        default=str(REPO_ROOT / "configs" / "edge.yaml"),
        help="edge config: deployment confidence, NMS IoU, analysis rate",
    )
    gate.add_argument(
        "--real-data",
        default=None,
        help="shared data folder (default: $CIVICWATCH_SHARED_DATA or ../shared/data)",
    )
    gate.add_argument("--no-real", action="store_true", help="skip the real-image table")
    gate.add_argument(
        "--clip-frames",
        type=int,
        default=None,
        help="real table: analyse at most this many frames per clip",
    )
    gate.add_argument(
        "--out",
        required=True,
        metavar="PREFIX",
        help="report prefix: writes PREFIX.json and PREFIX.md",
    )
    gate.set_defaults(func=run)


def _model(value: str) -> tuple[Path, str]:
    from training.review_data import resolve_start

    path = resolve_start(value)
    if path.suffix != ".onnx" or not path.is_file():
        raise ValueError(f"{value}: the gate runs ONNX model files ({path} is not one)")
    label = value if value != "default" else f"default ({path.name})"
    return path, label


def run(args: argparse.Namespace) -> int:
    """Run ``models gate``; exit 0 passed, 1 failed, 2 bad input."""
    from edge.config import EdgeConfigError
    from edge.registry import ModelVerificationError, RegistryError
    from training.cli import _shared_data
    from training.config import ConfigError, load_config
    from training.gate.run import run_gate
    from training.real_eval.data import edge_settings
    from training.review_data import ExportDataError

    try:
        candidate, cand_label = _model(args.candidate)
        against, against_label = _model(args.against)
        config = load_config(Path(args.config))
        settings = edge_settings(Path(args.edge_config))
    except (RegistryError, ModelVerificationError, ConfigError, EdgeConfigError, ValueError) as exc:
        sys.stderr.write(f"civicwatch models gate: {exc}\n")
        return EXIT_USAGE
    if candidate.resolve() == against.resolve():
        sys.stderr.write("civicwatch models gate: the candidate is the model it is gated against\n")
        return EXIT_USAGE
    real = None if args.no_real else (Path(args.real_data) if args.real_data else _shared_data())
    argv = sys.argv
    start = argv.index("models") if "models" in argv else len(argv)
    command = shlex.join(["civicwatch", *argv[start:]]) if start < len(argv) else "(API)"
    try:
        report = run_gate(
            candidate=candidate,
            against=against,
            labels=(cand_label, against_label),
            export_dir=Path(args.split),
            split=args.split_name,
            settings=settings,
            config=config,
            real_data=real,
            clip_limit=args.clip_frames,
            command=command,
        )
    except (ExportDataError, ValueError) as exc:
        sys.stderr.write(f"civicwatch models gate: {exc}\n")
        return EXIT_USAGE
    json_path, md_path = report.write(Path(args.out))
    sys.stdout.write(report.markdown() + f"\n{report.verdict_line()}\n")
    sys.stdout.write(f"report: {json_path} {md_path}\n")
    return EXIT_PASSED if report.passed else EXIT_FAILED
