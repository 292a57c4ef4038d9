extension Simulation {
    /// TODO: stub, to be implemented.
    func sysMadvise(_ p: Process, addr: UInt64, length: UInt64, advice: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
