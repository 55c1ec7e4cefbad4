import DropnetDataset
import DropnetModel
import Foundation

/// Real photos a user keeps apart to judge the model by: `<folder>/<label>/<photo>`, never
/// trained on (by default `DROP/.heldout/`, which the drop-folder scan ignores as hidden).
/// They are scored through the model's own framing and preprocessing, as the app feeds the
/// exported model, so their accuracy is the phone's.
public struct HeldOutPhotos: Sendable, Equatable {
  /// One photo and the class it shows.
  public struct Photo: Sendable, Equatable {
    public var label: Label
    /// Absolute path.
    public var path: String
  }

  /// What scoring a model on the photos gave.
  public struct Score: Sendable, Equatable, Codable {
    /// A photo the model got wrong.
    public struct Mistake: Sendable, Equatable, Codable {
      public var photo: String
      public var label: String
      public var predicted: String
      public var probability: Double
    }
    /// Correct over scored photos.
    public var accuracy: Double
    public var correct: Int
    /// Photos of the model's classes (others are not scored: the model cannot name them).
    public var total: Int
    /// label -> (correct, total), for every class with photos.
    public var perClass: [String: [Int]]
    public var mistakes: [Mistake]
    /// Labels of photos the model has no class for.
    public var unknownLabels: [String]
  }

  /// The checkpoint metadata key (and exported models' metadata key) of the held-out accuracy.
  public static let accuracyKey = "heldout_accuracy"

  /// Image files read (any letter case).
  public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]

  /// The photos, by label then name.
  public var photos: [Photo]

  /// The photos in `folder` (none when it does not exist). Hidden files, other extensions and
  /// folders whose name is not a valid label are left out.
  public init(folder: URL) {
    let manager = FileManager.default
    var photos: [Photo] = []
    let labels = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
    for name in labels.sorted() where !name.hasPrefix(".") {
      let labelFolder = folder.appendingPathComponent(name)
      var isFolder: ObjCBool = false
      guard manager.fileExists(atPath: labelFolder.path, isDirectory: &isFolder),
        isFolder.boolValue, let label = try? Label(validating: name)
      else { continue }
      let files = (try? manager.contentsOfDirectory(atPath: labelFolder.path)) ?? []
      for file in files.sorted()
      where !file.hasPrefix(".")
        && Self.extensions.contains((file as NSString).pathExtension.lowercased())
      {
        photos.append(Photo(label: label, path: labelFolder.appendingPathComponent(file).path))
      }
    }
    self.photos = photos
  }

  public var isEmpty: Bool { photos.isEmpty }

  /// Scores `checkpoint` (any dropnet or ImageNet checkpoint) on the photos of its classes,
  /// through its framing and the network as `dropnet predict` runs it; nil when it has no
  /// photos of its classes. A photo that cannot be read is an error naming it.
  public func score(_ checkpoint: Checkpoint, threads: Int) throws -> Score? {
    let classifier = try CheckpointClassifier(checkpoint: checkpoint, threads: threads)
    let known = Set(classifier.labels)
    let scored = photos.filter { known.contains($0.label.name) }
    guard !scored.isEmpty else { return nil }
    var correct = 0
    var perClass: [String: [Int]] = [:]
    var mistakes: [Score.Mistake] = []
    for photo in scored {
      let input = try CheckpointClassifier.input(
        contentsOf: photo.path, framing: classifier.framing)
      let probabilities = try classifier.probabilities(input)
      let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
      let predicted = classifier.labels[best]
      var counts = perClass[photo.label.name] ?? [0, 0]
      counts[1] += 1
      if predicted == photo.label.name {
        correct += 1
        counts[0] += 1
      } else {
        mistakes.append(
          Score.Mistake(
            photo: photo.path, label: photo.label.name, predicted: predicted,
            probability: Double(probabilities[best])))
      }
      perClass[photo.label.name] = counts
    }
    return Score(
      accuracy: Double(correct) / Double(scored.count), correct: correct, total: scored.count,
      perClass: perClass, mistakes: mistakes,
      unknownLabels: Array(Set(photos.map(\.label.name)).subtracting(known)).sorted())
  }
}
