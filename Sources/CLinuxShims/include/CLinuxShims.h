// Linux system interfaces that Swift's Glibc module does not export:
// epoll(7) and eventfd(2), used by MMServer's event loops.
#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
#endif
