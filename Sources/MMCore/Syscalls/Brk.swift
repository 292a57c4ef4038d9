extension Simulation {
    /// TODO: stub, to be implemented.
    func sysBrk(_ p: Process, addr: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
