/// The mmsim HTTP service.
public enum MMServerInfo {
    public static let name = "mmsim"
    /// The version `mmsim --version` prints; the one place it is written.
    public static let version = "0.1.0"
}
