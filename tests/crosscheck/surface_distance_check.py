#!/usr/bin/env python3
"""The deepmind distance convention against DeepMind's surface-distance package itself: HD,
HD95, ASSD and NSD of random 2D and 3D masks with anisotropic spacing, through `maskeval score`,
must equal the package's to 1e-6 relative. Exits 77 (skipped) when the package is not installed.

surface-distance returns the two directed average distances; maskeval's `assd` pools them
weighted by surface area, which is what this check compares.

Usage: surface_distance_check.py MASKEVAL_EXECUTABLE"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import numpy as np

    if not hasattr(np, "Inf"):  # the package predates NumPy 2
        np.Inf = np.inf
    from surface_distance import metrics
except ImportError:
    print("surface-distance is not installed: skipped (pip install surface-distance)")
    sys.exit(77)

warnings.simplefilter("ignore", DeprecationWarning)


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


def main():
    exe = sys.argv[1]
    rng = np.random.default_rng(8)
    worst = 0.0
    tolerance = 1.5
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(12):
            shape = (7, 11 + trial, 13) if trial % 2 else (15 + trial, 12)
            spacing_xyz = [0.7 + 0.1 * trial, 1.3, 2.5]
            # Dense noise in some trials, so that every kind of surface element occurs.
            noise = 0.35 if trial % 3 == 2 else 0.01
            a, b = blob(rng, shape, noise), blob(rng, shape, noise)
            case = os.path.join(tmp, f"data/c{trial}")
            os.makedirs(case)
            write_mha(os.path.join(case, "pred.mha"), b, spacing_xyz)
            write_mha(os.path.join(case, "ref.mha"), a, spacing_xyz)
            out = os.path.join(tmp, f"out{trial}")
            subprocess.run([exe, "score", "--cases", case, "--raters", "pred.mha",
                            "--reference", "ref.mha", "--distance-convention", "deepmind",
                            "--percentile", "95", "--nsd-tolerance", str(tolerance), "-q",
                            "--no-maps", "-o", out], check=True)
            with open(os.path.join(out, "report.json")) as f:
                got = json.load(f)["cases"][0]["scores"]["by"]["pred"]["1"]
            spacing = list(reversed(spacing_xyz[: len(shape)]))  # array axis order
            sd = metrics.compute_surface_distances(a, b, spacing)
            area_a, area_b = sd["surfel_areas_gt"].sum(), sd["surfel_areas_pred"].sum()
            mean_ab, mean_ba = metrics.compute_average_surface_distance(sd)
            want = {
                "hd": metrics.compute_robust_hausdorff(sd, 100),
                "hd_percentile": metrics.compute_robust_hausdorff(sd, 95),
                "assd": (mean_ab * area_a + mean_ba * area_b) / (area_a + area_b),
                "nsd": metrics.compute_surface_dice_at_tolerance(sd, tolerance),
            }
            for key, value in want.items():
                err = abs(got[key] - value) / max(1.0, abs(value))
                worst = max(worst, err)
                if err > 1e-6:
                    print(f"trial {trial}: {key} maskeval {got[key]!r} surface-distance {value!r}")
                    return 1
    print(f"deepmind convention equals surface-distance: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
