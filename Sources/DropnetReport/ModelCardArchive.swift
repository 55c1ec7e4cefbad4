import DropnetStorage
import Foundation

/// The model cards of the published versions, one JSON file each in
/// `STATE/model-cards/<version>.json`, written atomically: what a page's history lists and
/// what `dropnet report` renders the published model's page from.
public struct ModelCardArchive: Sendable {
  /// The folder of the card files.
  public let folder: URL

  /// The archive in `stateFolder`.
  public init(stateFolder: URL) {
    folder = stateFolder.appendingPathComponent("model-cards")
  }

  /// The file of `version`'s card.
  public func url(_ version: Int) -> URL {
    folder.appendingPathComponent("\(version).json")
  }

  /// Saves a published card (`card.version` must be set). Throws `ModelCardError`.
  public func save(_ card: ModelCard) throws {
    guard let version = card.version else {
      throw ModelCardError("only a published card (with a version) is archived")
    }
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try AtomicFile.write(try card.encoded(), to: url(version))
    } catch {
      throw ModelCardError(
        "cannot save the model card in \(folder.path) (\(error)); check the state folder's "
          + "free space and permissions")
    }
  }

  /// The archived versions, oldest first.
  public func versions() -> [Int] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return entries.compactMap { entry in
      entry.hasSuffix(".json") ? Int(entry.dropLast(".json".count)) : nil
    }.sorted()
  }

  /// Every readable card, oldest first (an unreadable one is left out).
  public func cards() -> [ModelCard] {
    versions().compactMap { version in
      (try? Data(contentsOf: url(version))).flatMap { try? ModelCard(decoding: $0) }
    }
  }

  /// Removes the cards of versions not in `kept` (the versions the output folder still has).
  public func prune(keeping kept: Set<Int>) {
    for version in versions() where !kept.contains(version) {
      try? FileManager.default.removeItem(at: url(version))
    }
  }
}
