import DropnetDataset
import DropnetStorage
import DropnetTraining
import Foundation

/// The daemon's view of things, written atomically to `state/status.json` whenever it changes;
/// `dropnet status` prints it.
public struct DaemonStatus: Codable, Sendable, Equatable {
  /// One class of the dataset.
  public struct ClassCount: Codable, Sendable, Equatable {
    public var label: String
    public var movies: Int
    public var frames: Int
  }

  /// What the daemon is doing.
  public enum State: String, Codable, Sendable {
    case starting, idle, extracting, training, publishing, stopped
  }

  /// How a training pass ended (or that it runs).
  public enum Outcome: String, Codable, Sendable {
    /// Still training.
    case running
    /// Published: the gate let it through, or it was a rebuild.
    case published
    /// Trained, but the gate kept the published model.
    case rejected
    /// Not trained: not enough data.
    case skipped
    /// Training or publishing failed (`reason` says why).
    case failed
    /// The daemon stopped during the pass; nothing of it was kept.
    case stopped
  }

  /// The last training pass.
  public struct Training: Codable, Sendable, Equatable {
    /// `fast` or `full`.
    public var pass: ServicePlanner.Pass
    /// What trained (nil when nothing did).
    public var mode: FineTuneMode?
    public var startedAt: String
    public var finishedAt: String?
    public var outcome: Outcome
    /// Why (gate figures, what is missing, the error).
    public var reason: String?
    public var epochs: Int?
    public var bestEpoch: Int?
    public var validationAccuracy: Double?
    public var validationLoss: Double?
    public var seconds: Double?
  }

  /// The daemon's process id.
  public var pid: Int32
  /// What the daemon is doing.
  public var state: State
  /// The line sent as `STATUS=`.
  public var line: String
  public var updatedAt: String
  public var classes: [ClassCount] = []
  /// Movies whose extraction failed, with the reason.
  public var failedMovies: [String: String] = [:]
  public var lastTraining: Training?
  public var published: PublishedModel?
  /// The dataset digest each pass last trained on (`fast`, `full`): unchanged data is not
  /// retrained after a restart.
  public var trainedDigests: [String: String] = [:]
  /// Classes left out of training until they have enough frames, with the reason.
  public var waitingClasses: [String: String] = [:]

  public init(pid: Int32, state: State, line: String) {
    self.pid = pid
    self.state = state
    self.line = line
    self.updatedAt = DaemonStatus.now()
  }

  public static let fileName = "status.json"

  /// The status in `stateFolder`, or nil when there is none.
  public static func load(from stateFolder: URL) -> DaemonStatus? {
    let url = stateFolder.appendingPathComponent(fileName)
    guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
    return try? JSONDecoder().decode(DaemonStatus.self, from: data)
  }

  /// Writes it atomically (best effort: a full state disk must not stop the daemon).
  public func save(to stateFolder: URL) -> Bool {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    guard let data = try? encoder.encode(self) else { return false }
    do {
      try AtomicFile.write(data, to: stateFolder.appendingPathComponent(Self.fileName))
      return true
    } catch {
      return false
    }
  }

  /// The classes of `manifest` with their movie and kept-frame counts.
  public static func classes(of manifest: Manifest) -> [ClassCount] {
    Dictionary(grouping: manifest.movies.values, by: \.label.name)
      .map { label, movies in
        ClassCount(
          label: label, movies: movies.count,
          frames: movies.reduce(0) { $0 + $1.keptFrames.count })
      }
      .sorted { $0.label < $1.label }
  }

  /// A digest of what training would see: every movie's path and extraction identity.
  public static func digest(of manifest: Manifest) -> String {
    // FNV-1a 64 over the sorted "path\tmovieID\n" lines: a change detector, not a security hash.
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for (path, record) in manifest.movies.sorted(by: { $0.key < $1.key }) {
      for byte in "\(path)\t\(record.movieID)\t\(record.label.name)\n".utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
      }
    }
    return String(hash, radix: 16)
  }

  /// ISO 8601 now.
  public static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
