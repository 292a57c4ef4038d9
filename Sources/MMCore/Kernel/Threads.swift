/// Threads: tasks that share one process's `mm`.
///
/// A thread is what clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND) makes
/// (copy_process() in kernel/fork.c): a new task in the caller's thread group
/// whose `mm` is the group's — no dup_mmap(), no new VMAs, no anon_vma work.
/// Its tid comes from the same number space as pids (alloc_pid()), so a
/// session's next process gets the next free number after it. Every fault and
/// syscall a thread makes acts on the shared `mm`; single-threaded results
/// do not depend on which thread asked. exit_group() (the `exit` syscall)
/// ends every thread; exit_mmap() runs once, when the group's mm loses its
/// last user (mmput() in kernel/fork.c).
extension Simulation {
    /// Models clone(CLONE_VM|CLONE_THREAD) (copy_process(), kernel/fork.c):
    /// adds a task to `pid`'s thread group sharing its mm; returns the new tid.
    @discardableResult
    public func createThread(pid: Int) throws(SimulationError) -> Int {
        let p = try process(pid)
        let tid = nextPid
        nextPid += 1
        p.threads.append(tid)
        return tid
    }

    /// The running process whose thread group holds `tid` (nil: the leader),
    /// or the error the API reports: no such process, exited, or a tid that
    /// is not one of its threads.
    public func process(_ pid: Int, tid: Int?) throws(SimulationError) -> Process {
        let p = try process(pid)
        if let tid, tid != pid, !p.threads.contains(tid) { throw .noSuchThread(pid, tid) }
        return p
    }
}
