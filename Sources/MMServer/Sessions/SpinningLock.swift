import MMHTTP
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex that spins briefly before it sleeps: the session and session-store
/// locks are held for a microsecond or two, by at most one thread per event
/// loop, so a waiter that parks in the kernel (futex) pays a context switch
/// that costs more than the wait. Models nothing; a server utility.
///
/// `@unchecked Sendable`: the state is a pthread mutex, used only through it.
final class SpinningLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Attempts with `pthread_mutex_trylock` before blocking.
    private static let spins = 200

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Acquires the lock, spinning up to ``spins`` times before sleeping.
    func lock() {
        for _ in 0..<Self.spins where pthread_mutex_trylock(mutex) == 0 { return }
        pthread_mutex_lock(mutex)
    }

    /// Releases the lock.
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` holding the lock.
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
