"""The plate recogniser: the plate warped upright, double rows side by side, CTC text, colour.

The model (``plate_rec.onnx``) takes one 48x168 BGR plate, ``(x / 255 - 0.588) / 0.193``, and
gives ``(1, 21, 78)`` logits over :data:`PLATE_CHARS` (index 0 the CTC blank) and ``(1, 5)``
colour logits over :data:`PLATE_COLOURS`. It reads one row of characters, so a double-row
plate (a truck's rear plate: province and letter above, the rest below) is first cut into its
two rows, the top 5/12 stretched to the bottom 2/3's size and put to its left
(:func:`stitch_double_row`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.plates.detector import order_corners
from edge.plates.session import check_io, open_session
from edge.plates.settings import PlateModelFile
from edge.types import FloatArray, ImageArray

PLATE_CHARS = (
    "#京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新学警港澳挂使领民航危"
    "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ险品"
)
"""The recogniser's alphabet; index 0 (``#``) is the CTC blank."""
PLATE_COLOURS = ("black", "blue", "green", "white", "yellow")
"""The colour head's classes, in output order."""
INPUT_HW = (48, 168)
"""Network input ``(height, width)``."""
MEAN, STD = 0.588, 0.193
"""Normalisation: ``(x / 255 - MEAN) / STD``."""
TOP_ROW, BOTTOM_ROW_FROM = 5 / 12, 1 / 3
"""A double-row plate's top row is its top 5/12; its bottom row is everything below 1/3."""


def softmax(logits: npt.ArrayLike) -> FloatArray:
    """Softmax over the last axis (numerically stable)."""
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: FloatArray = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class CtcText:
    """Greedy CTC decoding of one plate.

    Attributes:
        text: The characters read.
        char_confidence: Probability of each character read (its best step), ``(len(text),)``.
    """

    text: str
    char_confidence: tuple[float, ...]

    @property
    def confidence(self) -> float:
        """The least sure character's probability (0 for no text): a plate is as good as its
        weakest character."""
        return min(self.char_confidence, default=0.0)


def ctc_greedy(probs: npt.ArrayLike, alphabet: str = PLATE_CHARS) -> CtcText:
    """Best class per step, repeats collapsed, blanks dropped.

    Args:
        probs: ``(T, C)`` per-step class probabilities (softmax applied), ``C = len(alphabet)``.
        alphabet: Characters by class index; index 0 is the blank.

    Raises:
        ValueError: If ``probs`` is not ``(T, len(alphabet))``.

    Example:
        >>> import numpy as np
        >>> steps = np.eye(4)[[1, 1, 0, 1, 2, 0, 0, 3]]
        >>> ctc_greedy(steps, "#AB7").text
        'AAB7'
    """
    p = np.asarray(probs, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != len(alphabet):
        raise ValueError(f"probs must be (T, {len(alphabet)}), got {p.shape}")
    best = p.argmax(axis=1)
    chars: list[str] = []
    confidence: list[float] = []
    previous = 0
    for step, index in enumerate(best.tolist()):
        if index != 0 and index != previous:
            chars.append(alphabet[index])
            confidence.append(float(p[step, index]))
        elif index != 0 and index == previous:  # the same character held: keep its best step
            confidence[-1] = max(confidence[-1], float(p[step, index]))
        previous = index
    return CtcText("".join(chars), tuple(confidence))


def warp_plate(image: ImageArray, corners: npt.ArrayLike) -> ImageArray:
    """The plate cut out along its four corners and made upright (perspective warp).

    The output is as wide as the plate's longer top or bottom edge and as tall as its longer
    left or right edge (at least 2 pixels each).

    Args:
        image: The BGR image the corners are in.
        corners: ``(4, 2)`` corners in any order.
    """
    src = order_corners(corners)
    tl, tr, br, bl = src
    width = max(2, round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    height = max(2, round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    dst = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR)
    return np.ascontiguousarray(warped, dtype=np.uint8)


def stitch_double_row(plate: ImageArray) -> ImageArray:
    """A double-row plate as one row: its top row stretched to the bottom row's size, left of it.

    Raises:
        ValueError: If the plate is too small to split (under 3 pixels high).

    Example:
        >>> import numpy as np
        >>> stitch_double_row(np.zeros((24, 40, 3), np.uint8)).shape
        (16, 80, 3)
    """
    h = plate.shape[0]
    if h < 3:
        raise ValueError(f"a double-row plate needs at least 3 pixel rows, got {h}")
    top = plate[: max(1, int(TOP_ROW * h))]
    bottom = plate[int(BOTTOM_ROW_FROM * h) :]
    stretched = cv2.resize(top, (bottom.shape[1], bottom.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(np.hstack([stretched, bottom]), dtype=np.uint8)


def preprocess(plate: ImageArray) -> FloatArray:
    """An upright one-row plate as the network input ``(1, 3, 48, 168)`` (BGR, normalised)."""
    h, w = INPUT_HW
    resized = cv2.resize(plate, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    blob = ((resized / 255.0 - MEAN) / STD).transpose(2, 0, 1)[np.newaxis]
    out: FloatArray = np.ascontiguousarray(blob, dtype=np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the recogniser read on one plate.

    Attributes:
        text: The plate's characters (may be empty).
        confidence: The least sure character's probability (0 for no text).
        colour: The plate's colour (one of :data:`PLATE_COLOURS`).
        colour_confidence: The colour's probability.
    """

    text: str
    confidence: float
    colour: str
    colour_confidence: float


class PlateRecogniser:
    """``plate_rec.onnx`` (or ``plate_rec_small.onnx``) run with onnxruntime on CPU.

    Args:
        model: The file and its SHA-256 (checked before loading).
        threads: Intra-op threads.

    Raises:
        PlateModelError: If the file is missing, its SHA-256 differs, or its input or
            outputs are not the recogniser's.
    """

    def __init__(self, model: PlateModelFile, *, threads: int = 1) -> None:
        self.session = open_session(model, "plate recogniser", threads=threads)
        self._input = check_io(
            self.session,
            model.path,
            "plate recogniser",
            input_shape=(1, 3, *INPUT_HW),
            outputs=2,
        )

    def recognise(self, upright: ImageArray, *, double_row: bool) -> Recognition:
        """Read an upright plate (:func:`warp_plate`); a double-row one is stitched first."""
        plate = stitch_double_row(upright) if double_row else upright
        text_logits, colour_logits = self.session.run(None, {self._input: preprocess(plate)})
        steps = softmax(np.asarray(text_logits).reshape(-1, len(PLATE_CHARS)))
        colours = softmax(np.asarray(colour_logits).reshape(len(PLATE_COLOURS)))
        decoded = ctc_greedy(steps)
        best = int(colours.argmax())
        return Recognition(
            text=decoded.text,
            confidence=decoded.confidence,
            colour=PLATE_COLOURS[best],
            colour_confidence=float(colours[best]),
        )
