#!/usr/bin/env python3
"""The medpy distance convention against medpy itself: HD, HD95 and ASSD of random 2D and 3D
masks with anisotropic spacing, through `maskeval score`, must equal medpy.metric.binary's to
1e-6 relative. Exits 77 (skipped) when medpy is not installed.

Usage: medpy_check.py MASKEVAL_EXECUTABLE"""
import sys

try:
    import numpy  # noqa: F401  (common needs it)
    from medpy.metric import binary
except ImportError:
    print("medpy is not installed: skipped (pip install medpy)")
    sys.exit(77)

import common


def medpy_figures(ref, pred, spacing):
    return {
        "hd": binary.hd(pred, ref, voxelspacing=spacing),
        "hd_percentile": binary.hd95(pred, ref, voxelspacing=spacing),
        "assd": binary.assd(pred, ref, voxelspacing=spacing),
    }


def main():
    # medpy raises on an empty mask: such pairs are left out.
    worst = common.check_random_cases(sys.argv[1], "medpy", "medpy", medpy_figures, seed=5,
                                      trials=8, skip_empty=True)
    if worst is None:
        return 1
    print(f"medpy convention equals medpy {binary.__name__}: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
