import MMCore

/// GET /v1/kernels: what the page and clients need to know about the
/// models, all from MMCore (`KernelModel`, `ModelOptions.switches`,
/// `FaultInjection.switches`); nothing about them is written twice.
enum Models {
    static func kernels(default def: KernelModel) -> JSONValue {
        .object([
            ("kernels", .array(KernelModel.all.map { k in
                .object([("id", .string(k.id)), ("spec", .string(k.spec)), ("title", .string(k.title)),
                         ("summary", .string(k.summary)), ("per_vma_lock", .bool(k.perVMALock))])
            })),
            ("default", .string(def.id)),
            // The four models the thread compares (compare's default columns).
            ("compare_default", .array(KernelModel.historic.map { .string($0.id) })),
            ("mutants", .array(Mutant.allCases.map { .string($0.rawValue) })),
            ("options", .array(ModelOptions.switches.map { s in
                .object([("name", .string(s.name)), ("summary", .string(s.summary))])
            })),
            ("injections", .array(FaultInjection.switches.map { s in
                .object([("name", .string(s.name)), ("summary", .string(s.summary))])
            })),
        ])
    }
}
