import Foundation

/// The drop-folder contract: which files are movies, and which label each one teaches.
///
/// - `LABEL.mov` at the top: the label is the file stem.
/// - `LABEL/ANY-NAME.mov`: the label is the folder name (several movies per class).
/// - Accepted extensions: `.mov`, `.mp4`, `.m4v`, in any case.
/// - Ignored, each with a reason: hidden files and folders, temporary files (`*.part`, `*.tmp`,
///   `.~*`), other extensions, folders deeper than one level, and anything not a regular file.
/// - Labels that are unsafe or that collide with another spelling are reported, and their
///   movies are left out.
public struct DropFolder: Sendable {
  /// A movie found in the drop folder.
  public struct Movie: Hashable, Sendable {
    /// Path relative to the drop folder, with `/` separators: the movie's identity.
    public var relativePath: String
    public var label: Label
    public var url: URL
  }

  /// An entry that was not taken, and why.
  public struct Skipped: Hashable, Sendable {
    public var relativePath: String
    public var reason: String
  }

  /// The result of one scan.
  public struct Scan: Sendable {
    public var movies: [Movie]
    public var skipped: [Skipped]
    /// Label problems (invalid names, collisions); their movies are not in `movies`.
    public var labelErrors: [DatasetError]
  }

  public static let movieExtensions: Set<String> = ["mov", "mp4", "m4v"]

  public let root: URL

  public init(root: URL) { self.root = root }

  /// Why a file name is not a movie to take, or nil when it is one.
  public static func skipReason(fileName name: String) -> String? {
    let lower = name.lowercased()
    if lower.hasPrefix(".~") { return "temporary file" }
    if lower.hasPrefix(".") { return "hidden file" }
    if lower.hasSuffix(".part") || lower.hasSuffix(".tmp") || lower.hasSuffix("~") {
      return "temporary file (still being copied?)"
    }
    let fileExtension = (lower as NSString).pathExtension
    if !movieExtensions.contains(fileExtension) {
      return "not a movie (accepted: .mov, .mp4, .m4v)"
    }
    return nil
  }

  /// Lists the drop folder (one level of label folders), applying the contract.
  public func scan() throws -> Scan {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw DatasetError(
        .missingFolder, path: root.path,
        "the drop folder does not exist or is not a folder; create it or pass --drop")
    }
    var candidates: [(relativePath: String, labelName: String, url: URL)] = []
    var skipped: [Skipped] = []
    for name in try contents(of: root) {
      let url = root.appendingPathComponent(name)
      switch kind(of: url) {
      case .directory:
        if name.hasPrefix(".") {
          skipped.append(Skipped(relativePath: name + "/", reason: "hidden folder"))
          continue
        }
        for inner in try contents(of: url) {
          let innerURL = url.appendingPathComponent(inner)
          let relative = name + "/" + inner
          switch kind(of: innerURL) {
          case .directory:
            skipped.append(
              Skipped(
                relativePath: relative + "/",
                reason: "nested folder (only one level of label folders is read)"))
          case .file:
            if let reason = Self.skipReason(fileName: inner) {
              skipped.append(Skipped(relativePath: relative, reason: reason))
            } else {
              candidates.append((relative, name, innerURL))
            }
          case .other:
            skipped.append(Skipped(relativePath: relative, reason: "not a regular file"))
          }
        }
      case .file:
        if let reason = Self.skipReason(fileName: name) {
          skipped.append(Skipped(relativePath: name, reason: reason))
        } else {
          candidates.append((name, (name as NSString).deletingPathExtension, url))
        }
      case .other:
        skipped.append(Skipped(relativePath: name, reason: "not a regular file"))
      }
    }
    return Self.applyLabels(to: candidates, skipped: skipped)
  }

  /// Validates labels and reports spellings that collide; pure, for tests.
  static func applyLabels(
    to candidates: [(relativePath: String, labelName: String, url: URL)], skipped: [Skipped]
  ) -> Scan {
    var labelErrors: [DatasetError] = []
    var valid: [(relativePath: String, raw: String, label: Label, url: URL)] = []
    var reportedInvalid: Set<String> = []
    for candidate in candidates {
      do {
        let label = try Label(validating: candidate.labelName)
        valid.append((candidate.relativePath, candidate.labelName, label, candidate.url))
      } catch var error as DatasetError {
        if reportedInvalid.insert(candidate.labelName).inserted {
          error.path = candidate.relativePath
          labelErrors.append(error)
        }
      } catch {}
    }
    // The same spelling in `cat.mov` and `cat/clip.mov` is one class; different spellings that
    // meet on a case-insensitive disk or in NFC (`Cat`, `cat`, NFD `café`) are reported.
    let spellings = Dictionary(grouping: valid, by: \.label.collisionKey)
      // By bytes: Swift's String equality would call NFC and NFD spellings equal.
      .mapValues {
        Set($0.map { Array($0.raw.utf8) }).map { String(decoding: $0, as: UTF8.self) }.sorted()
      }
    var colliding: Set<String> = []
    for (key, raws) in spellings.sorted(by: { $0.key < $1.key }) where raws.count > 1 {
      colliding.insert(key)
      let names = raws.map { Label.quoted($0) }.joined(separator: ", ")
      labelErrors.append(
        DatasetError(
          .labelCollision,
          "labels \(names) differ only in case or Unicode form and would collide; rename them to one spelling (their movies are skipped until then)"
        ))
    }
    let movies = valid.filter { !colliding.contains($0.label.collisionKey) }
      .map { Movie(relativePath: $0.relativePath, label: $0.label, url: $0.url) }
      .sorted { $0.relativePath < $1.relativePath }
    return Scan(movies: movies, skipped: skipped, labelErrors: labelErrors)
  }

  private enum Kind { case file, directory, other }

  private func kind(of url: URL) -> Kind {
    var status = stat()
    guard stat(url.path, &status) == 0 else { return .other }
    switch status.st_mode & S_IFMT {
    case S_IFREG: return .file
    case S_IFDIR: return .directory
    default: return .other
    }
  }

  private func contents(of url: URL) throws -> [String] {
    do {
      return try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    } catch {
      throw DatasetError(
        .io, path: url.path,
        "cannot list the folder (\(error.localizedDescription)); check permissions")
    }
  }
}
