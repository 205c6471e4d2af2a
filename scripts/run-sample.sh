#!/usr/bin/env bash
# The main job on the sample data in data/: installs what is missing, builds, then measures
# annotator agreement and writes consensus masks for the sample sets and scores the KiTS23
# annotators and the CamVid predictions. Reports go to OUT (default out/), one folder per run,
# each with report.json, report.html, cases.csv, pairs.csv, summary.csv and the masks and maps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bin="${BUILD_DIR:-build}/maskeval"
out="${OUT:-out}"

echo "== BU-BIL dataset 4 (cell microscopy, 3 experts, gold = their majority) =="
"$bin" fuse --cases data/bu-bil --raters 'experts/*.png' --reference gold.png \
  --foreground '<128' -o "$out/bu-bil"
echo
echo "== LIDC-IDRI-0004 (CT nodules, 4 radiologists, many empty masks) =="
"$bin" agree --cases data/lidc --raters 'reader*.png' --foreground nonzero -o "$out/lidc"
echo
echo "== KiTS23 case_00061 (3D NIfTI, kidney and tumour instances, 3 annotators) =="
"$bin" fuse --manifest data/kits23/manifest.csv --paint-order 1,3,2 -o "$out/kits23"
echo
echo "== KiTS23 case_00061: each annotator against the official label map, over the official"
echo "   regions (kidney and masses, masses, tumour), distances in mm =="
"$bin" score --manifest data/kits23/manifest.csv --labels data/kits23/labels.json \
  --nnunet-summary "$out/kits23-score/summary.json" -o "$out/kits23-score"
echo
echo "== CamVid (road scenes, 11 named classes, void 11 ignored): predictions against references =="
"$bin" score --prediction data/camvid/prediction --reference data/camvid/reference \
  --labels data/camvid/labels.csv --ignore-label 11 \
  --nnunet-summary "$out/camvid/summary.json" -o "$out/camvid"
