extension Simulation {
    /// TODO: stub, to be implemented.
    func sysMmap(_ p: Process, addr: UInt64, length: UInt64, prot: UInt64, flags: UInt64, fd: Int, offset: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
