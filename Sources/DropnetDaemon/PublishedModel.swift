import DropnetStorage
import DropnetTraining
import Foundation

/// What the daemon published last, kept in `state/published.json` beside the checkpoint it
/// was exported from (`state/published.safetensors`), so the gate can compare against it after
/// a restart.
public struct PublishedModel: Codable, Sendable, Equatable {
  /// The export version (`versions/<Name>-<version>.mlmodel`).
  public var version: Int
  /// Class labels in output order.
  public var labels: [String]
  /// Validation accuracy when it was trained.
  public var validationAccuracy: Double
  /// Validation loss when it was trained.
  public var validationLoss: Double
  /// The pass that trained it.
  public var pass: ServicePlanner.Pass
  /// What trained.
  public var mode: FineTuneMode
  /// ISO 8601 time of publishing.
  public var publishedAt: String
  /// The dataset it was trained on (`DatasetDigest`).
  public var datasetDigest: String
  /// SHA-256 of the published .mlmodel.
  public var modelSHA256: String
  /// Accuracy on the held-out photos when it was published (nil without held-out photos).
  public var heldOutAccuracy: Double?

  public init(
    version: Int, labels: [String], validationAccuracy: Double, validationLoss: Double,
    pass: ServicePlanner.Pass, mode: FineTuneMode, publishedAt: String, datasetDigest: String,
    modelSHA256: String, heldOutAccuracy: Double? = nil
  ) {
    self.heldOutAccuracy = heldOutAccuracy
    self.version = version
    self.labels = labels
    self.validationAccuracy = validationAccuracy
    self.validationLoss = validationLoss
    self.pass = pass
    self.mode = mode
    self.publishedAt = publishedAt
    self.datasetDigest = datasetDigest
    self.modelSHA256 = modelSHA256
  }

  public static let fileName = "published.json"
  public static let checkpointFileName = "published.safetensors"

  /// The record in `stateFolder`, or nil when nothing was published (or it is unreadable).
  public static func load(from stateFolder: URL) -> PublishedModel? {
    guard
      let data = FileManager.default.contents(
        atPath: stateFolder.appendingPathComponent(fileName).path)
    else { return nil }
    return try? JSONDecoder().decode(PublishedModel.self, from: data)
  }

  /// Writes the record atomically.
  public func save(to stateFolder: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do {
      try AtomicFile.write(
        try encoder.encode(self), to: stateFolder.appendingPathComponent(Self.fileName))
    } catch {
      throw DaemonError(.folder, "cannot write \(Self.fileName) in \(stateFolder.path): \(error)")
    }
  }
}
