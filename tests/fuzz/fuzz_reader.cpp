// libFuzzer target for one reader: the input bytes become a file of the format MASKEVAL_FUZZ_EXT
// names, read through read_image with small limits, and as a case loads it (read_image_values,
// whose values may lie behind a header, then to_labels). InputError is the expected answer to a
// bad file; a crash, a sanitizer report, any other exception or a wrong-sized image is a finding.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "maskeval/image.h"
#include "maskeval/labels.h"

#ifndef MASKEVAL_FUZZ_EXT
#error "MASKEVAL_FUZZ_EXT must be the file extension of the reader, e.g. \".png\""
#endif

namespace {

std::string g_dir;   // a private temporary folder
std::string g_path;  // the input file in it, rewritten for every input

void remove_files() {
  unlink(g_path.c_str());
  rmdir(g_dir.c_str());
}

// The image must be exactly as large as its geometry says, and within the limit.
void check_image(const maskeval::RawImage& img, const maskeval::ReadLimits& limits) {
  const int64_t values = img.voxels() * img.channels;
  const int64_t bytes = values * maskeval::pixel_type_size(img.type);
  if (img.channels < 1 || values > limits.max_voxels ||
      static_cast<int64_t>(img.bytes.size()) != bytes) {
    std::fprintf(stderr, "read_image returned %zu bytes for %lld values of %s\n", img.bytes.size(),
                 static_cast<long long>(values), maskeval::pixel_type_name(img.type));
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/maskeval_fuzz_XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    abort();
  }
  g_dir = tmpl;
  g_path = g_dir + "/input" MASKEVAL_FUZZ_EXT;
  atexit(remove_files);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(g_path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror(g_path.c_str());
    abort();
  }
  maskeval::ReadLimits limits;
  limits.max_voxels = int64_t{1} << 22;  // 4 Mi values: at most 32 MiB an image, fast runs
  try {
    check_image(maskeval::read_image(g_path, limits), limits);
  } catch (const maskeval::InputError&) {
    // the expected answer to a bad file
  }
  try {
    const maskeval::LabelImage labels =
        maskeval::to_labels(maskeval::read_image_values(g_path, limits), {});
    if (static_cast<int64_t>(labels.data.size()) != labels.geom.voxels() * labels.label_bytes) {
      std::fprintf(stderr, "to_labels returned %zu bytes for %lld voxels\n", labels.data.size(),
                   static_cast<long long>(labels.geom.voxels()));
      abort();
    }
  } catch (const maskeval::InputError&) {
  }
  return 0;
}
