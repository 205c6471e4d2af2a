#!/usr/bin/env python3
"""The deepmind and monai conventions against surface-distance and MONAI on real CT volumes:
KiTS23 kidney masks of annotators 1 and 2 (each the union of its instance files) from
../shared/data/kits23, through `maskeval score`, with the files' anisotropic spacing. Every
figure must agree to 1e-6 relative. Exits 77 (skipped) when the data, nibabel, surface-distance
or MONAI is absent.

Usage: kits23_check.py MASKEVAL_EXECUTABLE DATA_DIR"""
import os
import sys
import tempfile

try:
    import nibabel as nib
    import numpy as np
except ImportError as e:
    print(f"skipped: {e.name} is not installed (pip install nibabel)")
    sys.exit(77)

# Each exits 77 when its tool is absent.
from monai_check import monai_figures  # noqa: E402
from surface_distance_check import deepmind_figures  # noqa: E402

import common  # noqa: E402

CASES = ["case_00021", "case_00030"]
NSD_TOLERANCE = 2.0


def kidney(folder, annotator):
    """The union of one annotator's kidney instance files, and the first file's image."""
    mask, image = None, None
    for name in sorted(os.listdir(folder)):
        if name.startswith("kidney_instance") and name.endswith(f"annotation-{annotator}.nii.gz"):
            image = nib.load(os.path.join(folder, name))
            voxels = np.asarray(image.dataobj) > 0
            mask = voxels if mask is None else mask | voxels
    return mask, image


def main():
    exe, data = sys.argv[1], sys.argv[2]
    if not all(os.path.isdir(os.path.join(data, c, "instances")) for c in CASES):
        print(f"skipped: no KiTS23 instance files under {data}")
        return 77
    worst = {"deepmind": 0.0, "monai": 0.0}
    tools = {"deepmind": ("surface-distance", deepmind_figures), "monai": ("MONAI", monai_figures)}
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
            for convention, (tool, figures) in tools.items():
                got = common.maskeval_scores(exe, case_dir, "pred.nii.gz", "ref.nii.gz",
                                             convention, NSD_TOLERANCE)
                want = figures(ref, pred, spacing, NSD_TOLERANCE)
                err = common.worst_difference(got, want, f"{case} {convention}", tool)
                if err is None:
                    return 1
                worst[convention] = max(worst[convention], err)
    print(f"KiTS23 kidneys ({', '.join(CASES)}): deepmind equals surface-distance to "
          f"{worst['deepmind']:.1e}, monai equals MONAI to {worst['monai']:.1e} (float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
