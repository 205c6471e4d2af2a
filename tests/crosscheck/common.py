"""Shared by the cross-checks: random masks written as MetaImage files, `maskeval score` run on
a case folder of `pred` against `ref`, and the comparison with a tool's figures (1e-6
relative). numpy must be importable (the scripts check it before importing this)."""
import json
import os
import subprocess
import tempfile

import numpy as np

TOLERANCE = 1e-6


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
    """A random ball plus noise, so that surfaces are irregular."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    centre = [rng.uniform(0, n) for n in shape]
    radius = rng.uniform(2, max(3, min(shape) / 2))
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return (d2 < radius**2) | (rng.uniform(size=shape) < noise)


def maskeval_scores(exe, case_dir, pred, ref, convention, nsd_tolerance=None):
    """maskeval's label-1 scores of the file `pred` against `ref` in `case_dir`."""
    out = case_dir + "-out"
    args = [exe, "score", "--cases", case_dir, "--raters", pred, "--reference", ref,
            "--distance-convention", convention, "--percentile", "95", "-q", "--no-maps",
            "-o", out]
    if nsd_tolerance is not None:
        args += ["--nsd-tolerance", str(nsd_tolerance)]
    subprocess.run(args, check=True)
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)["cases"][0]["scores"]["by"]["pred"]["1"]


def worst_difference(got, want, where, tool):
    """The largest relative difference of maskeval's figures from the tool's; None (after
    saying which) when one is over TOLERANCE."""
    worst = 0.0
    for key, value in want.items():
        err = abs(got[key] - value) / max(1.0, abs(value))
        if err > TOLERANCE:
            print(f"{where}: {key} maskeval {got[key]!r} {tool} {value!r}")
            return None
        worst = max(worst, err)
    return worst


def check_random_cases(exe, convention, tool, figures, seed, trials, noise=lambda trial: 0.01,
                       nsd_tolerance=None, skip_empty=False):
    """Random 2D and 3D pairs with anisotropic spacing through `maskeval score` and through
    figures(ref, pred, spacing) (spacing in array axis order); the largest relative difference,
    or None when one is over TOLERANCE."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(trials):
            shape = (7, 11 + trial, 13) if trial % 2 else (15 + trial, 12)
            spacing_xyz = [0.7 + 0.1 * trial, 1.3, 2.5]
            ref, pred = blob(rng, shape, noise(trial)), blob(rng, shape, noise(trial))
            if skip_empty and not (ref.any() and pred.any()):
                continue
            case = os.path.join(tmp, f"c{trial}")
            os.makedirs(case)
            write_mha(os.path.join(case, "pred.mha"), pred, spacing_xyz)
            write_mha(os.path.join(case, "ref.mha"), ref, spacing_xyz)
            got = maskeval_scores(exe, case, "pred.mha", "ref.mha", convention, nsd_tolerance)
            spacing = list(reversed(spacing_xyz[: len(shape)]))
            err = worst_difference(got, figures(ref, pred, spacing), f"trial {trial}", tool)
            if err is None:
                return None
            worst = max(worst, err)
    return worst
