import MMCore
import MMTrace
import MMHTTP

/// The API's JSON for results the command line also prints (`mmsim replay
/// --json`): the same encoders as the endpoints, so the two cannot drift.
public enum ReportJSON {
    /// A replay: the report as `POST …/replay` answers it and the statistics as `GET …/stats` does.
    public static func replay(_ report: ReplayReport, stats: Stats) -> [(String, JSONValue)] {
        [("report", DTO.replay(report)), ("stats", DTO.stats(stats))]
    }
}
