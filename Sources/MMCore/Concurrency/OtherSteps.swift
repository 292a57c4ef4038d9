extension Machine {
    mutating func mmapStep(_ addr: UInt64, _ length: UInt64, _ prot: UInt64, _ flags: UInt64) { finishOp() }
    mutating func mremapStep(_ old: UInt64, _ size: UInt64, _ flags: UInt64, _ newAddr: UInt64) { finishOp() }
    mutating func madviseStep(_ addr: UInt64, _ length: UInt64) { finishOp() }
    mutating func brkStep(_ addr: UInt64) { finishOp() }
    mutating func forkStep() { finishOp() }
}
