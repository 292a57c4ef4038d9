// Linux system interfaces that Swift's Glibc module does not export:
// epoll(7) and eventfd(2), used by MMServer's event loops, the calling
// thread's kernel name (prctl(2) PR_SET_NAME / PR_GET_NAME), and getrandom(2)
// for session ids.
#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>

/// Sets the calling thread's name as top -H, perf and /proc/PID/task/*/comm
/// show it (at most 15 bytes are kept). Returns 0 or -1 with errno.
static inline int mmsim_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

/// Copies the calling thread's name into `buffer` (at least 16 bytes).
static inline int mmsim_get_thread_name(char *buffer) {
    return prctl(PR_GET_NAME, (unsigned long)buffer, 0, 0, 0);
}
#endif
#endif
