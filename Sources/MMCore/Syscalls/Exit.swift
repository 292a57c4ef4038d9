extension Simulation {
    /// TODO: stub, to be implemented.
    func sysExit(_ p: Process, status: Int) -> SysReturn {
        .error(.ENOSYS)
    }
}
