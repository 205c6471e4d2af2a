#!/usr/bin/env python3
"""The monai distance convention (the default) against MONAI itself: HD, HD95, ASSD and NSD of
random 2D and 3D masks with anisotropic spacing, through `maskeval score`, must equal
HausdorffDistanceMetric, SurfaceDistanceMetric(symmetric=True) and SurfaceDiceMetric to 1e-6
relative. Exits 77 (skipped) when MONAI (with PyTorch) is not installed.

Usage: monai_check.py MASKEVAL_EXECUTABLE"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import numpy as np
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric
except ImportError:
    print("MONAI is not installed: skipped (pip install monai)")
    sys.exit(77)

warnings.simplefilter("ignore")


def write_mha(path, array, spacing_xyz):
    """A MetaImage file; `array` is indexed [z][y][x] (or [y][x])."""
    dims = list(reversed(array.shape))
    with open(path, "wb") as f:
        header = [
            "ObjectType = Image",
            f"NDims = {len(dims)}",
            "DimSize = " + " ".join(str(d) for d in dims),
            "ElementSpacing = " + " ".join(repr(s) for s in spacing_xyz[: len(dims)]),
            "ElementType = MET_UCHAR",
            "ElementDataFile = LOCAL",
        ]
        f.write(("\n".join(header) + "\n").encode())
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def blob(rng, shape, noise):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    centre = [rng.uniform(0, n) for n in shape]
    radius = rng.uniform(2, max(3, min(shape) / 2))
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return (d2 < radius**2) | (rng.uniform(size=shape) < noise)


def monai_figures(pred, ref, spacing, tolerance):
    """MONAI's metrics of one binary pair, one channel, spacing in array axis order."""
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    r = torch.from_numpy(ref[None, None].astype(np.float32))

    def value(metric):
        metric(p, r, spacing=spacing)
        return float(metric.aggregate().item())

    return {
        "hd": value(HausdorffDistanceMetric(include_background=True)),
        "hd_percentile": value(HausdorffDistanceMetric(include_background=True, percentile=95)),
        "assd": value(SurfaceDistanceMetric(include_background=True, symmetric=True)),
        "nsd": value(SurfaceDiceMetric([tolerance], include_background=True)),
    }


def main():
    exe = sys.argv[1]
    rng = np.random.default_rng(11)
    worst = 0.0
    tolerance = 1.5
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(10):
            shape = (7, 11 + trial, 13) if trial % 2 else (15 + trial, 12)
            spacing_xyz = [0.7 + 0.1 * trial, 1.3, 2.5]
            noise = 0.2 if trial % 3 == 2 else 0.01
            a, b = blob(rng, shape, noise), blob(rng, shape, noise)
            case = os.path.join(tmp, f"data/c{trial}")
            os.makedirs(case)
            write_mha(os.path.join(case, "pred.mha"), b, spacing_xyz)
            write_mha(os.path.join(case, "ref.mha"), a, spacing_xyz)
            out = os.path.join(tmp, f"out{trial}")
            subprocess.run([exe, "score", "--cases", case, "--raters", "pred.mha",
                            "--reference", "ref.mha", "--distance-convention", "monai",
                            "--percentile", "95", "--nsd-tolerance", str(tolerance), "-q",
                            "--no-maps", "-o", out], check=True)
            with open(os.path.join(out, "report.json")) as f:
                got = json.load(f)["cases"][0]["scores"]["by"]["pred"]["1"]
            spacing = list(reversed(spacing_xyz[: len(shape)]))  # array axis order
            for key, value in monai_figures(b, a, spacing, tolerance).items():
                err = abs(got[key] - value) / max(1.0, abs(value))
                worst = max(worst, err)
                if err > 1e-6:
                    print(f"trial {trial}: {key} maskeval {got[key]!r} MONAI {value!r}")
                    return 1
    print(f"monai convention equals MONAI: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
