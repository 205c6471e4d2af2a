#!/usr/bin/env python3
"""The medpy distance convention against medpy itself: HD, HD95 and ASSD of random 2D and 3D
masks with anisotropic spacing, through `maskeval score`, must equal medpy.metric.binary's to
1e-6 relative. Exits 77 (skipped) when medpy is not installed.

Usage: medpy_check.py MASKEVAL_EXECUTABLE"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from medpy.metric import binary
except ImportError:
    print("medpy is not installed: skipped (pip install medpy)")
    sys.exit(77)


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


def blob(rng, shape):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    centre = [rng.uniform(0, n) for n in shape]
    radius = rng.uniform(2, max(3, min(shape) / 2))
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return (d2 < radius**2) | (rng.uniform(size=shape) < 0.01)


def main():
    exe = sys.argv[1]
    rng = np.random.default_rng(5)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(8):
            shape = (7, 11 + trial, 13) if trial % 2 else (15 + trial, 12)
            spacing_xyz = [0.7 + 0.1 * trial, 1.3, 2.5]
            a, b = blob(rng, shape), blob(rng, shape)
            if not a.any() or not b.any():
                continue
            case = os.path.join(tmp, f"data/c{trial}")
            os.makedirs(case)
            write_mha(os.path.join(case, "pred.mha"), b, spacing_xyz)
            write_mha(os.path.join(case, "ref.mha"), a, spacing_xyz)
            out = os.path.join(tmp, f"out{trial}")
            subprocess.run([exe, "score", "--cases", os.path.join(tmp, "data", f"c{trial}"),
                            "--raters", "pred.mha", "--reference", "ref.mha",
                            "--distance-convention", "medpy", "--percentile", "95", "-q",
                            "--no-maps", "-o", out], check=True)
            with open(os.path.join(out, "report.json")) as f:
                got = json.load(f)["cases"][0]["scores"]["by"]["pred"]["1"]
            spacing = list(reversed(spacing_xyz[: len(shape)]))  # medpy: array axis order
            want = {
                "hd": binary.hd(b, a, voxelspacing=spacing),
                "hd_percentile": binary.hd95(b, a, voxelspacing=spacing),
                "assd": binary.assd(b, a, voxelspacing=spacing),
            }
            for key, value in want.items():
                err = abs(got[key] - value) / max(1.0, abs(value))
                worst = max(worst, err)
                if err > 1e-6:
                    print(f"trial {trial}: {key} maskeval {got[key]!r} medpy {value!r}")
                    return 1
    print(f"medpy convention equals medpy {binary.__name__}: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
