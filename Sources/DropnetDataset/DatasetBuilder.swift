import Crypto
import DropnetStorage
import Foundation
import Logging

/// Brings the frame dataset in a state folder up to date with a drop folder, incrementally.
///
/// State folder layout:
///
///     state/manifest.json                           the index (atomic writes)
///     state/frames/<label>/<movieID>/<index>.jpg    kept frames
///     state/frames/<label>/.<movieID>.partial       a movie being extracted
///
/// - Unchanged movies (same size and mtime, same settings) are not opened at all; a movie whose
///   mtime changed but whose bytes did not is only re-hashed.
/// - A new or changed movie is extracted into a `.partial` folder, which is renamed into place
///   and then recorded in the manifest; the old version's folder is deleted only after that.
///   A kill -9 at any point leaves the manifest naming complete folders only; leftovers (partial
///   folders, folders the manifest does not name) are swept at the next run.
/// - A movie that fails keeps its earlier extraction: nothing is lost to a bad copy.
public struct DatasetBuilder {
  public let dropFolder: DropFolder
  public let stateFolder: URL
  public var settings: ExtractionSettings
  public var logger: Logger

  public init(dropFolder: URL, stateFolder: URL, settings: ExtractionSettings, logger: Logger) {
    self.dropFolder = DropFolder(root: dropFolder)
    self.stateFolder = stateFolder
    self.settings = settings
    self.logger = logger
  }

  public var framesFolder: URL { stateFolder.appendingPathComponent("frames") }

  /// Folder holding a recorded movie's kept frames.
  public func folder(of record: MovieRecord) -> URL {
    framesFolder.appendingPathComponent(record.label.name).appendingPathComponent(record.movieID)
  }

  /// The outcome of one run.
  public struct Summary: Sendable {
    public var manifest: Manifest
    public var extracted: [String] = []
    public var unchanged: [String] = []
    public var removed: [String] = []
    public var failed: [String: DatasetError] = [:]
    public var skipped: [DropFolder.Skipped] = []
    public var labelErrors: [DatasetError] = []
  }

  /// Scans, extracts what changed, removes what vanished, and returns the new manifest.
  public func run(
    events: (ExtractionEvent) -> Void = { _ in }, shouldStop: () -> Bool = { false }
  ) throws -> Summary {
    try createFolder(stateFolder)
    let lock = try StateLock(stateFolder: stateFolder)
    defer { withExtendedLifetime(lock) {} }
    try createFolder(framesFolder)
    var manifest = try Manifest.load(from: stateFolder)
    manifest.dropFolder = dropFolder.root.standardizedFileURL.path
    let scan = try dropFolder.scan()
    var summary = Summary(manifest: manifest)
    summary.skipped = scan.skipped
    summary.labelErrors = scan.labelErrors
    for skipped in scan.skipped {
      logger.info(
        "ignored", metadata: ["path": "\(skipped.relativePath)", "reason": "\(skipped.reason)"])
      events(.skipped(skipped))
    }
    for error in scan.labelErrors {
      logger.error(
        "label rejected", metadata: ["path": "\(error.path ?? "")", "error": "\(error)"])
      events(.labelError(error))
    }

    // Removed movies: in the manifest, gone from the drop folder. Movies left out only for a
    // label problem are removed too: their label is no longer a valid class.
    let present = Set(scan.movies.map(\.relativePath))
    for (path, record) in manifest.movies.sorted(by: { $0.key < $1.key })
    where !present.contains(path) {
      manifest.movies[path] = nil
      try manifest.save(to: stateFolder)
      try? FileManager.default.removeItem(at: folder(of: record))
      summary.removed.append(path)
      logger.info("removed", metadata: ["movie": "\(path)", "label": "\(record.label)"])
      events(.movieRemoved(path: path, label: record.label))
    }
    for path in manifest.failures.keys where !present.contains(path) {
      manifest.failures[path] = nil
    }

    // Decide what needs decoding.
    var pending: [(movie: DropFolder.Movie, fingerprint: FileFingerprint)] = []
    for movie in scan.movies {
      let fingerprint: FileFingerprint
      do {
        fingerprint = try FileFingerprint(path: movie.url.path)
      } catch let error as DatasetError {
        summary.failed[movie.relativePath] = error
        events(.movieFailed(path: movie.relativePath, error: error))
        continue
      }
      if let record = manifest.movies[movie.relativePath], record.label == movie.label,
        record.settings == settings
      {
        if record.size == fingerprint.size, record.modificationTime == fingerprint.modificationTime
        {
          if manifest.failures[movie.relativePath] == nil {
            summary.unchanged.append(movie.relativePath)
            continue
          }
        } else if record.size == fingerprint.size,
          let hash = try? FileFingerprint.contentHash(path: movie.url.path),
          hash == record.contentHash
        {
          manifest.movies[movie.relativePath]?.modificationTime = fingerprint.modificationTime
          manifest.failures[movie.relativePath] = nil
          summary.unchanged.append(movie.relativePath)
          events(.movieTouched(path: movie.relativePath))
          continue
        }
      }
      if let failure = manifest.failures[movie.relativePath], failure.size == fingerprint.size,
        failure.modificationTime == fingerprint.modificationTime
      {
        // Known bad and unchanged: report again, do not decode again.
        let error = DatasetError(
          DatasetError.Code(failure.code), path: movie.relativePath, failure.message)
        summary.failed[movie.relativePath] = error
        events(.movieFailed(path: movie.relativePath, error: error))
        continue
      }
      pending.append((movie, fingerprint))
    }
    events(
      .scanned(
        movies: scan.movies.count, pending: pending.count, unchanged: summary.unchanged.count))
    try manifest.save(to: stateFolder)
    try sweep(manifest: manifest)

    for (position, item) in pending.enumerated() {
      if shouldStop() { break }
      let path = item.movie.relativePath
      events(.movieStarted(path: path, position: position + 1, total: pending.count))
      let started = Date()
      logger.info("extracting", metadata: ["movie": "\(path)", "label": "\(item.movie.label)"])
      do {
        let record = try extract(
          item.movie, fingerprint: item.fingerprint, events: events,
          shouldStop: shouldStop)
        let previous = manifest.movies[path]
        manifest.movies[path] = record
        manifest.failures[path] = nil
        try manifest.save(to: stateFolder)
        if let previous, previous.movieID != record.movieID || previous.label != record.label {
          try? FileManager.default.removeItem(at: folder(of: previous))
        }
        summary.extracted.append(path)
        let seconds = Date().timeIntervalSince(started)
        logger.info(
          "extracted",
          metadata: [
            "movie": "\(path)", "label": "\(record.label)",
            "kept": "\(record.keptFrames.count)", "sampled": "\(record.frames.count)",
            "decoded": "\(record.decodedFrameCount)",
            "seconds": "\(String(format: "%.2f", seconds))",
          ])
        for warning in record.warnings {
          logger.warning(
            "extraction warning", metadata: ["movie": "\(path)", "warning": "\(warning)"])
        }
        events(.movieExtracted(record, seconds: seconds))
      } catch let error as DatasetError {
        if shouldStop() { break }
        manifest.failures[path] = FailureRecord(
          path: path, size: item.fingerprint.size,
          modificationTime: item.fingerprint.modificationTime, code: error.code.rawValue,
          message: error.message)
        try manifest.save(to: stateFolder)
        summary.failed[path] = error
        logger.error("extraction failed", metadata: ["movie": "\(path)", "error": "\(error)"])
        events(.movieFailed(path: path, error: error))
      }
    }
    summary.manifest = manifest
    return summary
  }

  /// Extracts one movie into a partial folder, checks the file did not change meanwhile, and
  /// renames the folder into place.
  private func extract(
    _ movie: DropFolder.Movie, fingerprint: FileFingerprint, events: (ExtractionEvent) -> Void,
    shouldStop: () -> Bool
  ) throws -> MovieRecord {
    let path = movie.url.path
    let contentHash = try FileFingerprint.contentHash(path: path)
    let movieID = Self.movieID(
      relativePath: movie.relativePath, contentHash: contentHash, settings: settings)
    let labelFolder = framesFolder.appendingPathComponent(movie.label.name)
    try createFolder(labelFolder)
    let partial = labelFolder.appendingPathComponent(".\(movieID).partial")
    try? FileManager.default.removeItem(at: partial)
    try createFolder(partial)
    do {
      let output = try MovieExtractor(settings: settings).extract(
        path: path, into: partial,
        progress: { events(.decoding(path: movie.relativePath, decoded: $0, expected: $1)) },
        shouldStop: shouldStop)
      let after = try FileFingerprint(path: path)
      guard after == fingerprint else {
        throw DatasetError(
          .changedWhileReading, path: movie.relativePath,
          "the file changed while it was being read (still being copied?); run again once the copy has finished"
        )
      }
      let final = labelFolder.appendingPathComponent(movieID)
      try? FileManager.default.removeItem(at: final)
      AtomicFile.syncFolder(partial)
      do {
        try AtomicFile.move(partial, over: final)
      } catch {
        throw DatasetError(.io, path: error.path, "\(error)")
      }
      return MovieRecord(
        path: movie.relativePath, label: movie.label, movieID: movieID, size: fingerprint.size,
        modificationTime: fingerprint.modificationTime, contentHash: contentHash,
        settings: settings, video: output.video, decodedFrameCount: output.decodedFrameCount,
        frames: output.frames, warnings: output.warnings, extractedAt: Date().timeIntervalSince1970)
    } catch {
      try? FileManager.default.removeItem(at: partial)
      rmdir(labelFolder.path)  // only succeeds when no other movie of the label is there
      throw error
    }
  }

  /// A path-safe folder name unique to this movie, content and settings: the file stem reduced
  /// to safe characters, plus 10 hex digits of a hash.
  static func movieID(relativePath: String, contentHash: String, settings: ExtractionSettings)
    -> String
  {
    let stem = ((relativePath as NSString).lastPathComponent as NSString).deletingPathExtension
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    var safe = String(stem.map { allowed.contains($0) ? $0 : "_" }.prefix(40))
    if safe.isEmpty { safe = "movie" }
    let settingsData = (try? JSONEncoder().encode(settings)) ?? Data()
    var hasher = SHA256()
    hasher.update(data: Data(relativePath.utf8))
    hasher.update(data: Data(contentHash.utf8))
    hasher.update(data: settingsData)
    let digest = hasher.finalize().prefix(5).map { String(format: "%02x", $0) }.joined()
    return "\(safe)-\(digest)"
  }

  /// Deletes frame folders the manifest does not name (partial extractions, old versions).
  private func sweep(manifest: Manifest) throws {
    let manager = FileManager.default
    let named = Set(manifest.movies.values.map { folder(of: $0).standardizedFileURL.path })
    let labels = (try? manager.contentsOfDirectory(atPath: framesFolder.path)) ?? []
    for label in labels {
      let labelFolder = framesFolder.appendingPathComponent(label)
      let entries = (try? manager.contentsOfDirectory(atPath: labelFolder.path)) ?? []
      for entry in entries {
        let url = labelFolder.appendingPathComponent(entry)
        if !named.contains(url.standardizedFileURL.path) {
          try? manager.removeItem(at: url)
          logger.debug("swept", metadata: ["folder": "\(url.path)"])
        }
      }
      if (try? manager.contentsOfDirectory(atPath: labelFolder.path))?.isEmpty ?? false {
        try? manager.removeItem(at: labelFolder)
      }
    }
  }

  private func createFolder(_ url: URL) throws {
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
      throw DatasetError(
        .io, path: url.path, "cannot create the folder (\(error.localizedDescription))")
    }
  }
}
