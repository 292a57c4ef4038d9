extension Simulation {
    /// TODO: stub, to be implemented.
    func sysMremap(_ p: Process, oldAddress: UInt64, oldSize: UInt64, newSize: UInt64, flags: UInt64, newAddress: UInt64) -> SysReturn {
        .error(.ENOSYS)
    }
}
