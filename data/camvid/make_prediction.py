#!/usr/bin/env python3
"""Makes the synthetic CamVid "prediction" label maps from the reference ones (deterministic).

No model output comes with the source, so each prediction is its reference label map
  1. shifted right by 3 and down by 2 pixels (the edge rows and columns repeated),
  2. with the thin classes (Pole 2, SignSymbol 6, Pedestrian 9, Bicyclist 10) eroded by one
     pixel: a pixel of such a class with a 4-neighbour of another value takes the value of the
     first such neighbour, looked at up, down, left, right,
  3. with no void (Unlabelled 11) left, as a model trained to ignore void never predicts it:
     each void pixel takes the first non-void value above it in its column (or, at the top,
     below it).
Usage: python3 make_prediction.py [REFERENCE_DIR [PREDICTION_DIR]] (default: reference/ and
prediction/ beside this script). Needs numpy and Pillow; the outputs are 8-bit greyscale PNGs.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SHIFT_X, SHIFT_Y = 3, 2
THIN = (2, 6, 9, 10)
VOID = 11


def shifted(labels):
    """The map moved right by SHIFT_X and down by SHIFT_Y, edge values repeated."""
    padded = np.pad(labels, ((SHIFT_Y, 0), (SHIFT_X, 0)), mode="edge")
    return padded[: labels.shape[0], : labels.shape[1]]


def eroded(labels):
    """Thin-class pixels on their border take their first differing 4-neighbour's value."""
    padded = np.pad(labels, 1, mode="edge")
    h, w = labels.shape
    neighbours = [padded[0:h, 1 : w + 1], padded[2 : h + 2, 1 : w + 1],
                  padded[1 : h + 1, 0:w], padded[1 : h + 1, 2 : w + 2]]
    out = labels.copy()
    todo = np.isin(labels, THIN)
    for n in neighbours:
        take = todo & (n != labels)
        out[take] = n[take]
        todo &= ~take
    return out


def void_filled(labels):
    """Each void pixel takes the nearest non-void value above it (below it at the top)."""
    h, w = labels.shape
    rows = np.arange(h)[:, None].repeat(w, axis=1)
    valid = labels != VOID
    above = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    below = np.flip(np.minimum.accumulate(np.flip(np.where(valid, rows, h), 0), axis=0), 0)
    source = np.where(above >= 0, above, below)
    source = np.clip(source, 0, h - 1)  # a column all void stays void
    return labels[source, np.arange(w)[None, :]]


def main():
    here = Path(__file__).resolve().parent
    ref_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "reference"
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else here / "prediction"
    out_dir.mkdir(parents=True, exist_ok=True)
    for ref in sorted(ref_dir.glob("*.png")):
        labels = np.array(Image.open(ref))
        if labels.ndim != 2 or labels.dtype != np.uint8:
            sys.exit(f"{ref}: expected an 8-bit greyscale label map")
        prediction = void_filled(eroded(shifted(labels)))
        Image.fromarray(prediction.astype(np.uint8), mode="L").save(out_dir / ref.name)
        print(f"{out_dir / ref.name}")


if __name__ == "__main__":
    main()
