/// The x86 permission check and what the hardware would have let through
/// (docs/KERNEL-MODEL.md §4.5).
extension Simulation {
    /// Whether the MMU would let `access` through the PTE at `vpn` without a
    /// fault: present (and not a PROT_NONE "protnone" entry), writable for a
    /// write, executable (VM_EXEC, no NX) for an instruction fetch.
    @inline(__always)
    func pteAllows(_ pte: PTE?, _ vma: VMA?, _ access: Access) -> Bool {
        guard let pte, pte.present, let vma, vma.flags.isAccessible else { return false }
        switch access {
        case .read: return true
        case .write: return pte.writable && vma.flags.contains(.WRITE)
        case .exec: return vma.flags.contains(.EXEC)
        }
    }

    /// X86_PF_PROT: the fault hit a hardware-present PTE that forbids the
    /// access (a protection fault). PROT_NONE entries are not hardware-present;
    /// a present PTE that allows the access can only fault through a stale TLB
    /// entry, which the hardware reports as not-present (a spurious fault).
    @inline(__always)
    func protectionFault(_ pte: PTE?, _ vma: VMA, _ access: Access) -> Bool {
        guard let pte, pte.present, vma.flags.isAccessible else { return false }
        return !pteAllows(pte, vma, access)
    }

    /// Models access_error() (arch/x86/mm/fault.c): true when the access is not
    /// permitted by the VMA. Pkeys, SGX and shadow stacks are out of scope.
    ///
    /// * write: error without VM_WRITE;
    /// * read/exec on a present PTE (X86_PF_PROT): always an error — this is how
    ///   an instruction fetch from a mapped non-exec page is caught (the second
    ///   fault of §4.5);
    /// * read/exec on a non-present PTE: error iff the VMA has none of R/W/X
    ///   (an exec fault is otherwise handled like a read).
    func accessError(_ pte: PTE?, _ access: Access, _ vma: VMA, tracing: Bool) -> Bool {
        let flags = vma.flags
        if access == .write {
            if !flags.contains(.WRITE) {
                trace(tracing, "access_error", "write to \(vma.rangeDescription) without VM_WRITE")
                return true
            }
            return false
        }
        if protectionFault(pte, vma, access) {
            trace(tracing, "access_error", "\(access.rawValue) protection fault on a present PTE (X86_PF_PROT)")
            return true
        }
        if !flags.isAccessible {
            trace(tracing, "access_error", "\(vma.rangeDescription) has none of VM_READ|VM_WRITE|VM_EXEC")
            return true
        }
        return false
    }
}
