/// Importing a Simulation process into the engine (docs/CONCURRENCY.md §5.1).
extension World {
    /// A copy of process `p`'s VMAs, the anon_vmas their chains reach, its
    /// present PTEs and their folios. The Simulation is only read.
    init(importing p: Process, from sim: Simulation) {
        mmapBase = p.mm.mmapBase
        mmapMinAddr = sim.layout.mmapMinAddr
        stackGuardGap = sim.layout.stackGuardGap
        brk = p.mm.brk
        startBrk = p.mm.startBrk
        nextVMAId = sim.nextVMAId
        nextAVId = sim.nextAnonVMAId
        nextFolioId = sim.nextFolioId
        folios = [EFolio(id: 0, anon: false, anonVMA: nil, mapcount: 0)]
        var avIndex: [ObjectIdentifier: Int] = [:]
        var order: [AnonVMA] = []
        func collect(_ av: AnonVMA) {
            guard avIndex[ObjectIdentifier(av)] == nil else { return }
            avIndex[ObjectIdentifier(av)] = -1
            if !av.isRoot { collect(av.root) }
            if av.parent !== av { collect(av.parent) }
            order.append(av)
        }
        for v in p.mm.vmas {
            v.chain.forEach { collect($0.anonVMA) }
            if let av = v.anonVMA { collect(av) }
        }
        order.sort { $0.id < $1.id }
        for (i, av) in order.enumerated() { avIndex[ObjectIdentifier(av)] = i }
        for av in order {
            let root = avIndex[ObjectIdentifier(av.root)]!
            let parent = avIndex[ObjectIdentifier(av.parent)]!
            avs.append(EAV(id: av.id, root: root, parent: parent, links: av.avcs.count, children: 0))
        }
        for i in avs.indices where avs[i].parent != i { avs[avs[i].parent].children += 1 }
        var folioIndex: [Int: Int] = [0: 0]
        for v in p.mm.vmas {
            let e = EVMA(id: v.id, mm: 0, start: v.start, end: v.end, pgoff: v.pgoff, flags: v.flags,
                         anonymous: v.isAnonymous, file: v.file?.id,
                         anonVMA: v.anonVMA.map { avIndex[ObjectIdentifier($0)]! },
                         chain: v.chain.map { avIndex[ObjectIdentifier($0.anonVMA)]! },
                         lockSeq: -1)
            vmas.append(e)
            tree.vmas.append(vmas.count - 1)
            p.mm.pageTable.forEach(in: v.start, v.end) { vpn, pte in
                guard pte.present, let f = pte.folio else { return }
                let fi: Int
                if let known = folioIndex[f.id] {
                    fi = known
                } else {
                    folios.append(EFolio(id: f.id, anon: f.isAnon, anonVMA: f.anonVMA.flatMap { avIndex[ObjectIdentifier($0)] },
                                         mapcount: f.mapcount))
                    fi = folios.count - 1
                    folioIndex[f.id] = fi
                }
                ptes.append(EPTE(mm: 0, vpn: vpn, folio: fi, writable: pte.writable))
            }
        }
    }
}
