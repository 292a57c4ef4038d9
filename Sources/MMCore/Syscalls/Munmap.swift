extension Simulation {
    /// TODO: stub, to be implemented.
    func sysMunmap(_ p: Process, addr: UInt64, length: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
