#!/usr/bin/env bash
# The main job on the sample data in data/: installs what is missing, builds, then measures
# annotator agreement and writes consensus masks for the three sample sets. Reports go to
# OUT (default out/), one folder per set, each with report.json and the masks and maps.
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
echo "== KiTS23 case_00061: each annotator against the official label map, distances in mm =="
"$bin" score --manifest data/kits23/manifest.csv -o "$out/kits23-score"
