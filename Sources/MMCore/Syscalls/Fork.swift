extension Simulation {
    /// TODO: stub, to be implemented.
    func sysFork(_ p: Process) -> SysReturn {
        .error(.ENOSYS)
    }
}
