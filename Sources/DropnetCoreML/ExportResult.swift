import Foundation

/// What `CoreMLExporter.export` wrote.
public struct ExportResult: Sendable, Equatable {
  /// `<folder>/<Name>.mlmodel`
  public var modelURL: URL
  /// `<folder>/<Name>.json`
  public var summaryURL: URL
  /// The summary written to `summaryURL`.
  public var summary: ExportSummary
}
