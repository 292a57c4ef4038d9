extension Simulation {
    /// TODO: stub, to be implemented.
    func sysMprotect(_ p: Process, addr: UInt64, length: UInt64, prot: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
