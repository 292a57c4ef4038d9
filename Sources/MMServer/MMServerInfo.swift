/// The mmsim HTTP service.
public enum MMServerInfo { public static let name = "mmsim" }
