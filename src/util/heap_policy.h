// How the process keeps memory it frees: large buffers stay with it for the next case.
#pragma once

namespace maskeval {

// Large buffers freed by one case (decoded images, label maps, counts) are kept by the
// allocator and handed to the next case, instead of going back to the system and coming back
// as fresh zero-filled pages (one page fault per 4 KiB, half the decoding time of a volume).
// The peak is unchanged: what is kept is what the largest case needed. glibc only; a no-op
// elsewhere. Call once, before the first allocation that matters.
void keep_freed_buffers();

}  // namespace maskeval
