#!/usr/bin/env python3
"""The deepmind distance convention against DeepMind's surface-distance package itself: HD,
HD95, ASSD and NSD of random 2D and 3D masks with anisotropic spacing, through `maskeval score`,
must equal the package's to 1e-6 relative. Exits 77 (skipped) when the package is not installed.

surface-distance returns the two directed average distances; maskeval's `assd` pools them
weighted by surface area, which is what this check compares.

Usage: surface_distance_check.py MASKEVAL_EXECUTABLE"""
import sys
import warnings

try:
    import numpy as np

    if not hasattr(np, "Inf"):  # the package predates NumPy 2
        np.Inf = np.inf
    from surface_distance import metrics
except ImportError:
    print("surface-distance is not installed: skipped (pip install surface-distance)")
    sys.exit(77)

import common

warnings.simplefilter("ignore", DeprecationWarning)
NSD_TOLERANCE = 1.5


def deepmind_figures(ref, pred, spacing, nsd_tolerance=NSD_TOLERANCE):
    sd = metrics.compute_surface_distances(ref, pred, spacing)
    area_ref, area_pred = sd["surfel_areas_gt"].sum(), sd["surfel_areas_pred"].sum()
    mean_rp, mean_pr = metrics.compute_average_surface_distance(sd)
    return {
        "hd": metrics.compute_robust_hausdorff(sd, 100),
        "hd_percentile": metrics.compute_robust_hausdorff(sd, 95),
        "assd": (mean_rp * area_ref + mean_pr * area_pred) / (area_ref + area_pred),
        "nsd": metrics.compute_surface_dice_at_tolerance(sd, nsd_tolerance),
    }


def main():
    # Dense noise in some trials, so that every kind of surface element occurs.
    worst = common.check_random_cases(sys.argv[1], "deepmind", "surface-distance",
                                      deepmind_figures, seed=8, trials=12,
                                      noise=lambda trial: 0.35 if trial % 3 == 2 else 0.01,
                                      nsd_tolerance=NSD_TOLERANCE)
    if worst is None:
        return 1
    print(f"deepmind convention equals surface-distance: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
