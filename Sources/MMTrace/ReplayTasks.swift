import MMCore
/// Tasks in a replay: threads, vfork children, exec and exit.
extension Replayer {
    /// A task joins `p`'s thread group: clone(CLONE_VM|CLONE_THREAD)
    /// (copy_process(), kernel/fork.c) shares the group's mm, so its faults
    /// and syscalls act on `p`.
    func addThread(_ tid: Int, to p: Process) {
        if pids[tid] == p.pid { return }
        _ = try? sim.createThread(pid: p.pid)
        pids[tid] = p.pid
        tasks[p.pid, default: []].insert(tid)
        report.processes[tid] = p.pid
    }

    /// The process a task's exec gives a fresh mm (exec_mmap(), fs/exec.c).
    /// A vfork child leaves its parent's mm for a process of its own; a
    /// thread that execs takes its group with it (de_thread(): the other
    /// threads are killed); any other task's process starts over in place.
    func execTask(_ key: Int, tgid: Int?) -> Process? {
        guard let p = process(for: key == -1 ? nil : key, tgid: tgid) else { return nil }
        if vforkChildren.remove(key) != nil {
            tasks[p.pid]?.remove(key)
            let child = sim.createProcess(comm: p.comm, ppid: p.pid)
            pids[key] = child.pid
            tasks[child.pid] = [key]
            report.processes[key] = child.pid
            return child
        }
        let vforked = (tasks[p.pid] ?? []).filter { vforkChildren.contains($0) }
        tasks[p.pid] = vforked.union([key])
        exec(p)
        return p
    }

    /// A task ends (do_exit()); `group`: exit_group() ends every task of its
    /// process. The process ends — exit_mmap() — with its last task. A vfork
    /// child that exits before exec leaves its parent's mm as it was.
    func exitTask(_ key: Int, tgid: Int?, line: Int, status: Int, group: Bool) {
        let pid: Int? = key == -1 ? nil : key
        if vforkChildren.remove(key) != nil, let simPid = pids[key] {
            tasks[simPid]?.remove(key)
            return step(line, pid, .applied, "vfork child exited before exec: its parent's mm continues")
        }
        guard let p = process(for: pid, tgid: tgid), p.state == .running else { return step(line, pid, .skipped, "already exited") }
        tasks[p.pid]?.remove(key)
        let others = (tasks[p.pid] ?? []).filter { !vforkChildren.contains($0) }
        if !group, !others.isEmpty {
            return step(line, pid, .applied, "thread exit")
        }
        report.exitMaps[tgid ?? key] = p.mm.vmas.map { v in
            MapsEntry(start: v.start, end: v.end, read: v.flags.contains(.READ), write: v.flags.contains(.WRITE),
                      exec: v.flags.contains(.EXEC), shared: v.flags.contains(.MAYSHARE),
                      offset: v.file == nil ? 0 : v.pgoff << Linux.PAGE_SHIFT, devMajor: 0, devMinor: 0, inode: 0,
                      path: ProcMaps.name(v, p.mm) ?? "", deleted: false, kind: .anonymous)
        }
        report.census.add(p)
        tasks[p.pid] = []
        let r = try? sim.syscall(pid: p.pid, .exit(status: status))
        step(line, pid, .applied, r?.strace ?? "exit")
    }
}
