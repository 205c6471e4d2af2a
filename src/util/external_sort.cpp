// The scratch file of an external sort: nameless where the system allows, else unlinked at once.
#include "util/external_sort.h"

#include <cstdlib>

#include "maskeval/run.h"

namespace maskeval {

ScratchFile::ScratchFile(const std::string& dir) : dir_(dir) {
#ifdef O_TMPFILE
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd_ < 0) {  // a file system without nameless files: a name, removed at once
    std::string name = dir + "/.maskeval-scratch-XXXXXX";
    fd_ = ::mkstemp(&name[0]);
    if (fd_ >= 0) ::unlink(name.c_str());
  }
  if (fd_ < 0)
    throw FatalError("cannot create a scratch file in " + dir + ": " + std::strerror(errno));
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t ScratchFile::append(const std::string& bytes) {
  const uint64_t at = size_;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw FatalError("cannot write a scratch file in " + dir_ + ": " +
                       (n < 0 ? std::strerror(errno) : "no space"));
    done += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return at;
}

void ScratchFile::read(uint64_t at, char* out, size_t n) const {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::pread(fd_, out + done, n - done, static_cast<off_t>(at + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0)
      throw FatalError("cannot read back a scratch file in " + dir_ + ": " +
                       (k < 0 ? std::strerror(errno) : "it is shorter than written"));
    done += static_cast<size_t>(k);
  }
}

}  // namespace maskeval
