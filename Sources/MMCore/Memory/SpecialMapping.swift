extension Simulation {
    /// Maps a special VMA (`[vdso]`, `[vvar]`) of `flags` at [start, end) in
    /// `process`: no file, no anon_vma, never merged. The caller checks that
    /// the range is free (as get_unmapped_area() would have). Used by trace
    /// import to rebuild a recorded layout.
    ///
    /// Models _install_special_mapping() (mm/mmap.c), which inserts the
    /// vm_special_mapping VMA with insert_vm_struct() under mmap_write_lock.
    @discardableResult
    public func installSpecialMapping(in process: Process, start: UInt64, end: UInt64, flags: VMFlags,
                                      name: String) -> VMA {
        let v = makeVMA(start: start, end: end, pgoff: 0, flags: flags, kind: .special(name: name))
        process.mm.vmas.insert(v)
        return v
    }
}
