#!/usr/bin/env python3
"""The deepmind and monai conventions against surface-distance and MONAI on real CT volumes:
KiTS23 kidney masks of annotators 1 and 2 (each the union of its instance files) from
../shared/data/kits23, through `maskeval score`, with the files' anisotropic spacing. Every
figure must agree to 1e-6 relative. Exits 77 (skipped) when the data, nibabel, surface-distance
or MONAI is absent.

Usage: kits23_check.py MASKEVAL_EXECUTABLE DATA_DIR"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import nibabel as nib
    import numpy as np

    if not hasattr(np, "Inf"):  # surface-distance predates NumPy 2
        np.Inf = np.inf
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric
    from surface_distance import metrics
except ImportError as e:
    print(f"skipped: {e.name} is not installed (pip install nibabel monai surface-distance)")
    sys.exit(77)

warnings.simplefilter("ignore")
CASES = ["case_00021", "case_00030"]
TOLERANCE = 2.0


def kidney(folder, annotator):
    """The union of one annotator's kidney instance files, and the first file's image."""
    mask, image = None, None
    for name in sorted(os.listdir(folder)):
        if name.startswith("kidney_instance") and name.endswith(f"annotation-{annotator}.nii.gz"):
            image = nib.load(os.path.join(folder, name))
            voxels = np.asarray(image.dataobj) > 0
            mask = voxels if mask is None else mask | voxels
    return mask, image


def deepmind(ref, pred, spacing):
    sd = metrics.compute_surface_distances(ref, pred, spacing)
    area_ref, area_pred = sd["surfel_areas_gt"].sum(), sd["surfel_areas_pred"].sum()
    mean_rp, mean_pr = metrics.compute_average_surface_distance(sd)
    return {
        "hd": metrics.compute_robust_hausdorff(sd, 100),
        "hd_percentile": metrics.compute_robust_hausdorff(sd, 95),
        "assd": (mean_rp * area_ref + mean_pr * area_pred) / (area_ref + area_pred),
        "nsd": metrics.compute_surface_dice_at_tolerance(sd, TOLERANCE),
    }


def monai(ref, pred, spacing):
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    r = torch.from_numpy(ref[None, None].astype(np.float32))

    def value(metric):
        metric(p, r, spacing=spacing)
        return float(metric.aggregate().item())

    return {
        "hd": value(HausdorffDistanceMetric(include_background=True)),
        "hd_percentile": value(HausdorffDistanceMetric(include_background=True, percentile=95)),
        "assd": value(SurfaceDistanceMetric(include_background=True, symmetric=True)),
        "nsd": value(SurfaceDiceMetric([TOLERANCE], include_background=True)),
    }


def main():
    exe, data = sys.argv[1], sys.argv[2]
    if not all(os.path.isdir(os.path.join(data, c, "instances")) for c in CASES):
        print(f"skipped: no KiTS23 instance files under {data}")
        return 77
    worst = {"deepmind": 0.0, "monai": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            folder = os.path.join(data, case, "instances")
            (ref, image), (pred, _) = kidney(folder, 1), kidney(folder, 2)
            # The arrays are indexed in the files' axis order: the spacing in the same order.
            spacing = [float(s) for s in image.header.get_zooms()[:3]]
            case_dir = os.path.join(tmp, case)
            os.makedirs(case_dir)
            for name, mask in (("ref", ref), ("pred", pred)):
                nib.save(nib.Nifti1Image(mask.astype(np.uint8), image.affine, image.header),
                         os.path.join(case_dir, f"{name}.nii.gz"))
            for convention, tool in (("deepmind", deepmind), ("monai", monai)):
                out = os.path.join(tmp, f"{case}-{convention}")
                subprocess.run([exe, "score", "--cases", case_dir, "--raters", "pred.nii.gz",
                                "--reference", "ref.nii.gz", "--distance-convention", convention,
                                "--nsd-tolerance", str(TOLERANCE), "-q", "--no-maps", "-o", out],
                               check=True)
                with open(os.path.join(out, "report.json")) as f:
                    got = json.load(f)["cases"][0]["scores"]["by"]["pred"]["1"]
                for key, value in tool(ref, pred, spacing).items():
                    err = abs(got[key] - value) / max(1.0, abs(value))
                    worst[convention] = max(worst[convention], err)
                    if err > 1e-6:
                        print(f"{case} {convention} {key}: maskeval {got[key]!r} tool {value!r}")
                        return 1
    print(f"KiTS23 kidneys ({', '.join(CASES)}): deepmind equals surface-distance to "
          f"{worst['deepmind']:.1e}, monai equals MONAI to {worst['monai']:.1e} (float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
