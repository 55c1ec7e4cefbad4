import DropnetMedia
import Foundation

/// The pictures of a model card, inlined as `data:` URIs so that the page is one
/// self-contained file (it is published with one rename, copied or mailed whole, and loads
/// nothing): frame and photo thumbnails (JPEG, longer side `thumbnailSide` px) and the
/// learning curves (the PNG `TrainingHistory.writeCurves` draws). Each picture is made once
/// and shared by every page rendered from one card. A file that cannot be read gives no
/// picture, never an error: the page shows a placeholder saying so.
public final class ModelCardPictures {
  /// One inlined picture.
  public struct Picture: Sendable, Equatable {
    /// `data:image/...;base64,...`
    public var dataURI: String
    public var width: Int
    public var height: Int
  }

  /// Longer side of a thumbnail, in pixels.
  public static let thumbnailSide = 96
  /// JPEG quality of a thumbnail: small files, faces and objects still recognisable.
  static let thumbnailQuality = 75

  /// The folder the frames' relative paths start from.
  public let stateFolder: URL
  private var thumbnails: [String: Picture?] = [:]
  private var drawnCurves: [ModelCard.Epoch]?
  private var curvesPicture: Picture?

  public init(stateFolder: URL) { self.stateFolder = stateFolder }

  /// A thumbnail of the image at `path` (absolute), nil when it cannot be read.
  public func thumbnail(path: String) -> Picture? {
    if let made = thumbnails[path] { return made }
    let made = try? Self.thumbnail(of: Image(contentsOf: path))
    thumbnails[path] = made
    return made
  }

  /// A thumbnail of a frame, by its path relative to the state folder.
  public func frame(_ relativePath: String) -> Picture? {
    thumbnail(path: stateFolder.appendingPathComponent(relativePath).path)
  }

  /// The learning curves of `card` (loss above accuracy, the kept epoch marked); nil when
  /// there are no epochs or they cannot be drawn.
  public func curves(of card: ModelCard) -> Picture? {
    guard !card.epochs.isEmpty else { return nil }
    if drawnCurves == card.epochs { return curvesPicture }
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-card-curves-\(UUID().uuidString).png")
    defer { try? FileManager.default.removeItem(at: file) }
    curvesPicture = try? {
      try card.history.writeCurves(to: file, bestEpoch: card.bestEpoch)
      let image = try Image(contentsOf: file.path)
      return Picture(
        dataURI: "data:image/png;base64," + (try Data(contentsOf: file)).base64EncodedString(),
        width: image.width, height: image.height)
    }()
    drawnCurves = card.epochs
    return curvesPicture
  }

  private static func thumbnail(of image: Image) throws -> Picture {
    let small = try image.limited(toMaxSide: thumbnailSide)
    let bytes = try small.jpegData(quality: thumbnailQuality)
    return Picture(
      dataURI: "data:image/jpeg;base64," + Data(bytes).base64EncodedString(), width: small.width,
      height: small.height)
  }
}
