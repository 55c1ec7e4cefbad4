import Foundation

/// What `ModelExporter.export` wrote.
public struct ExportResult: Sendable, Equatable {
  /// `<folder>/<name>.<extension>` of each format written.
  public var modelURLs: [ExportFormat: URL]
  /// `<folder>/<name>.json`
  public var summaryURL: URL
  /// The summary written to `summaryURL`.
  public var summary: ExportSummary

  /// The file of `format`; nil when it was not exported.
  public func url(_ format: ExportFormat) -> URL? { modelURLs[format] }
}
