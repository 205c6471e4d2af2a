#!/usr/bin/env python3
"""The monai distance convention (the default) against MONAI itself: HD, HD95, ASSD and NSD of
random 2D and 3D masks with anisotropic spacing, through `maskeval score`, must equal
HausdorffDistanceMetric, SurfaceDistanceMetric(symmetric=True) and SurfaceDiceMetric to 1e-6
relative. Exits 77 (skipped) when MONAI (with PyTorch) is not installed.

Usage: monai_check.py MASKEVAL_EXECUTABLE"""
import sys
import warnings

try:
    import numpy as np
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric
except ImportError:
    print("MONAI is not installed: skipped (pip install monai)")
    sys.exit(77)

import common

warnings.simplefilter("ignore")
NSD_TOLERANCE = 1.5


def monai_figures(ref, pred, spacing, nsd_tolerance=NSD_TOLERANCE):
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
        "nsd": value(SurfaceDiceMetric([nsd_tolerance], include_background=True)),
    }


def main():
    worst = common.check_random_cases(sys.argv[1], "monai", "MONAI", monai_figures, seed=11,
                                      trials=10,
                                      noise=lambda trial: 0.2 if trial % 3 == 2 else 0.01,
                                      nsd_tolerance=NSD_TOLERANCE)
    if worst is None:
        return 1
    print(f"monai convention equals MONAI: largest relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
