import DropnetCoreML
import DropnetModel
import DropnetStorage
import Foundation

/// Publishes a checkpoint as `<output>/<name>.mlmodel` + `<name>.json`, with
/// `versions/<name>-<version>.mlmodel` (the newest `versionsKept`).
///
/// Both files are first exported into `<output>/.staging/` (same file system) and only then
/// renamed over the published ones, so a full disk or a failed export leaves the published
/// model untouched, and a reader never sees a partial file. The version file is a hard link of
/// the staged model (no second copy of the bytes).
public struct ModelPublisher {
  public var outputFolder: URL
  public var name: String
  public var versionsKept: Int
  public var exportOptions: CoreMLExportOptions

  public init(
    outputFolder: URL, name: String, versionsKept: Int,
    exportOptions: CoreMLExportOptions = CoreMLExportOptions()
  ) {
    self.outputFolder = outputFolder
    self.name = name
    self.versionsKept = versionsKept
    self.exportOptions = exportOptions
  }

  public var modelURL: URL { outputFolder.appendingPathComponent(name + ".mlmodel") }
  public var summaryURL: URL { outputFolder.appendingPathComponent(name + ".json") }
  public var versionsFolder: URL { outputFolder.appendingPathComponent("versions") }
  var stagingFolder: URL { outputFolder.appendingPathComponent(".staging") }

  /// The path of version `version`'s model.
  public func versionURL(_ version: Int) -> URL {
    versionsFolder.appendingPathComponent("\(name)-\(version).mlmodel")
  }

  /// Exports and publishes `checkpoint`; returns the export's summary. Throws `DaemonError`
  /// (`.publishFailed`) with the reason; the published files are then as they were.
  public func publish(_ checkpoint: Checkpoint) throws -> ExportSummary {
    let manager = FileManager.default
    do {
      try manager.createDirectory(at: versionsFolder, withIntermediateDirectories: true)
      try? manager.removeItem(at: stagingFolder)
      try manager.createDirectory(at: stagingFolder, withIntermediateDirectories: true)
    } catch {
      throw DaemonError(
        .publishFailed,
        "cannot prepare \(outputFolder.path) (\(error.localizedDescription)); check that the "
          + "output folder exists and is writable; the published model stays")
    }
    defer { try? manager.removeItem(at: stagingFolder) }
    // The exporter counts versions up from the summary beside the model.
    let stagedSummary = stagingFolder.appendingPathComponent(name + ".json")
    if let previous = manager.contents(atPath: summaryURL.path) {
      try wrap { try AtomicFile.write(previous, to: stagedSummary) }
    }
    let result: ExportResult
    do {
      result = try CoreMLExporter.export(
        checkpoint: checkpoint, name: name, to: stagingFolder, options: exportOptions)
    } catch {
      throw DaemonError(.publishFailed, "export failed: \(error); the published model stays")
    }
    let version = result.summary.exportVersion
    let versionFile = versionURL(version)
    try? manager.removeItem(at: versionFile)
    if link(result.modelURL.path, versionFile.path) != 0 {
      throw DaemonError(
        .publishFailed,
        "cannot add \(versionFile.path) (\(String(cString: strerror(errno)))); the published "
          + "model stays")
    }
    try wrap { try AtomicFile.move(result.modelURL, over: modelURL) }
    try wrap { try AtomicFile.move(result.summaryURL, over: summaryURL) }
    pruneVersions()
    return result.summary
  }

  /// Deletes all but the newest `versionsKept` version files.
  public func pruneVersions() {
    for version in versions().dropLast(versionsKept) {
      try? FileManager.default.removeItem(at: versionURL(version))
    }
  }

  /// The versions in `versions/`, oldest first.
  public func versions() -> [Int] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: versionsFolder.path)) ?? []
    let prefix = name + "-"
    return entries.compactMap { entry -> Int? in
      guard entry.hasPrefix(prefix), entry.hasSuffix(".mlmodel") else { return nil }
      return Int(entry.dropFirst(prefix.count).dropLast(".mlmodel".count))
    }.sorted()
  }

  private func wrap(_ body: () throws -> Void) throws {
    do {
      try body()
    } catch {
      throw DaemonError(.publishFailed, "\(error); the published model stays")
    }
  }
}
