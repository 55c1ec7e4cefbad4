import DropnetExport
import DropnetModel
import DropnetStorage
import Foundation

/// Publishes a checkpoint as `<output>/<name>.<extension>` for every format of `formats`
/// (`.mlmodel`, `.onnx`, `.tflite`) + `<name>.json` and its model card page `<name>.html`,
/// all of one export version, with `versions/<name>-<version>.<extension>` and `.html` (the
/// newest `versionsKept` versions).
///
/// Every file is first written into `<output>/.staging/` (same file system) and only then
/// renamed over the published ones, the version's files first, then the model files, the
/// page, and the summary (which names each file with its SHA-256) last, so a full disk or a
/// failed export leaves the published model and page untouched, and a reader never sees a
/// partial file. A published file of a format no longer configured is removed after the
/// summary, so the folder holds one version. The version files are hard links of the staged
/// models (no second copy of the bytes).
public struct ModelPublisher {
  /// The model card pages published with a model (`ModelCardPage`).
  public struct Pages: Sendable {
    /// `<name>.html`, beside the model.
    public var current: Data
    /// `versions/<name>-<version>.html`, beside that version's files.
    public var version: Data

    public init(current: Data, version: Data) {
      self.current = current
      self.version = version
    }
  }

  public var outputFolder: URL
  public var name: String
  public var versionsKept: Int
  public var formats: [ExportFormat]
  public var exportOptions: ExportOptions

  public init(
    outputFolder: URL, name: String, versionsKept: Int,
    formats: [ExportFormat] = ExportFormat.allCases,
    exportOptions: ExportOptions = ExportOptions()
  ) {
    self.outputFolder = outputFolder
    self.name = name
    self.versionsKept = versionsKept
    self.formats = formats
    self.exportOptions = exportOptions
  }

  /// The published file of `format`.
  public func modelURL(_ format: ExportFormat) -> URL {
    outputFolder.appendingPathComponent(name + "." + format.fileExtension)
  }
  public var summaryURL: URL { outputFolder.appendingPathComponent(name + ".json") }
  /// The model card page beside the model.
  public var pageURL: URL { outputFolder.appendingPathComponent(name + ".html") }
  public var versionsFolder: URL { outputFolder.appendingPathComponent("versions") }
  var stagingFolder: URL { outputFolder.appendingPathComponent(".staging") }

  /// The path of version `version`'s file of `format`.
  public func versionURL(_ version: Int, format: ExportFormat = .mlmodel) -> URL {
    versionsFolder.appendingPathComponent("\(name)-\(version).\(format.fileExtension)")
  }

  /// The path of version `version`'s model card page.
  public func versionPageURL(_ version: Int) -> URL {
    versionsFolder.appendingPathComponent("\(name)-\(version).html")
  }

  /// Exports and publishes `checkpoint` in every format, with the pages `pages` makes from the
  /// export's summary (nil: none, and a page left from an earlier version is removed, so a
  /// page never describes another model); returns the summary. Throws `DaemonError`
  /// (`.publishFailed`) with the reason; the published files are then as they were.
  public func publish(
    _ checkpoint: Checkpoint, pages: (ExportSummary) -> Pages? = { _ in nil }
  ) throws -> ExportSummary {
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
    // The exporter counts versions up from the summary beside the models.
    let stagedSummary = stagingFolder.appendingPathComponent(name + ".json")
    if let previous = manager.contents(atPath: summaryURL.path) {
      try wrap { try AtomicFile.write(previous, to: stagedSummary) }
    }
    let result: ExportResult
    do {
      result = try ModelExporter.export(
        checkpoint: checkpoint, name: name, to: stagingFolder, formats: formats,
        options: exportOptions)
    } catch {
      throw DaemonError(.publishFailed, "export failed: \(error); the published model stays")
    }
    let version = result.summary.exportVersion
    let staged = result.summary.files.map(\.format).compactMap { format in
      result.url(format).map { (format: format, url: $0) }
    }
    let stagedPage = stagingFolder.appendingPathComponent(name + ".html")
    let stagedVersionPage = stagingFolder.appendingPathComponent("\(name)-\(version).html")
    let made = pages(result.summary)
    if let made {
      try wrap { try AtomicFile.write(made.current, to: stagedPage) }
      try wrap { try AtomicFile.write(made.version, to: stagedVersionPage) }
    }
    for (format, url) in staged {
      let versionFile = versionURL(version, format: format)
      try? manager.removeItem(at: versionFile)
      if link(url.path, versionFile.path) != 0 {
        throw DaemonError(
          .publishFailed,
          "cannot add \(versionFile.path) (\(String(cString: strerror(errno)))); the published "
            + "model stays")
      }
    }
    if made != nil {
      try wrap { try AtomicFile.move(stagedVersionPage, over: versionPageURL(version)) }
    }
    for (format, url) in staged {
      try wrap { try AtomicFile.move(url, over: modelURL(format)) }
    }
    if made != nil {
      try wrap { try AtomicFile.move(stagedPage, over: pageURL) }
    } else {
      try? manager.removeItem(at: pageURL)
    }
    try wrap { try AtomicFile.move(result.summaryURL, over: summaryURL) }
    for format in ExportFormat.allCases where !formats.contains(format) {
      try? manager.removeItem(at: modelURL(format))
    }
    pruneVersions()
    return result.summary
  }

  /// Deletes the files of all but the newest `versionsKept` versions, pages included.
  public func pruneVersions() {
    for version in versions().dropLast(versionsKept) {
      for format in ExportFormat.allCases {
        try? FileManager.default.removeItem(at: versionURL(version, format: format))
      }
      try? FileManager.default.removeItem(at: versionPageURL(version))
    }
  }

  /// The versions in `versions/` (a version counts when a file of any format has it), oldest
  /// first.
  public func versions() -> [Int] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: versionsFolder.path)) ?? []
    let prefix = name + "-"
    let found = entries.compactMap { entry -> Int? in
      guard entry.hasPrefix(prefix) else { return nil }
      for format in ExportFormat.allCases where entry.hasSuffix("." + format.fileExtension) {
        return Int(entry.dropFirst(prefix.count).dropLast(format.fileExtension.count + 1))
      }
      return nil
    }
    return Set(found).sorted()
  }

  private func wrap(_ body: () throws -> Void) throws {
    do {
      try body()
    } catch {
      throw DaemonError(.publishFailed, "\(error); the published model stays")
    }
  }
}
