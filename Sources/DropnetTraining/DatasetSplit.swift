import DropnetArchitecture
import DropnetDataset

/// Training and validation frames, split so that no moment of a movie is on both sides.
///
/// Frames sampled a fraction of a second apart are near copies: a random frame split puts
/// copies of every validation frame into training and reports the memory of the network, not
/// its accuracy on new footage. The leak-free strategy, per class:
/// - **several movies**: whole movies go to validation (a seeded order, taken greedily while
///   that brings the validation share closer to `validationFraction`; at least one movie on
///   each side);
/// - **one movie**: the last `validationFraction` of its kept frames by time go to validation,
///   and training frames closer than `boundaryGap` seconds to that block are left out
///   (`excluded`), so neighbouring frames never straddle the split.
///
/// `randomFrames` is the seed's Keras `validation_split` (frames drawn per class regardless of
/// their movie or time), kept only to show how much it flatters the validation accuracy.
public struct DatasetSplit: Sendable, Equatable {
  /// How frames are assigned to the two sides.
  public enum Strategy: String, Sendable, Hashable, CaseIterable {
    /// By movie, else by a time block with a gap (no leakage).
    case leakFree = "leak-free"
    /// Frames at random within each class (leaks neighbouring frames; comparison only).
    case randomFrames = "random-frames"
  }

  /// How one class was split.
  public enum Method: String, Sendable, Hashable {
    case byMovie = "by-movie"
    case byTime = "by-time"
    case randomFrames = "random-frames"
  }

  /// What to split and how.
  public struct Settings: Sendable, Hashable {
    public var strategy: Strategy = .leakFree
    /// Share of each class's frames meant for validation, in (0, 1); the seed used 0.25.
    public var validationFraction = 0.25
    /// Seconds between the last training frame and the validation block of a time split.
    /// One second covers the frames a hand-held camera shows nearly unchanged.
    public var boundaryGap = 1.0
    /// Seed of the movie order (by-movie) and of the frame draw (random frames).
    public var seed: UInt64 = 0

    public init() {}
  }

  /// The classes, sorted by name: index `i` here is class `i` of the network.
  public var labels: [Label]
  /// Frames to train on, sorted by label, movie and time.
  public var training: [TrainingSample]
  /// Frames to validate on, sorted by label, movie and time.
  public var validation: [TrainingSample]
  /// Frames in neither set: the gap before a time split's validation block.
  public var excluded: [TrainingSample]
  /// How each class was split.
  public var methods: [Label: Method]

  /// Splits every kept frame of `manifest`; throws `.tooFewFrames` naming the class when one
  /// cannot have frames on both sides.
  public init(manifest: Manifest, settings: Settings = Settings()) throws {
    guard settings.validationFraction > 0, settings.validationFraction < 1 else {
      throw TrainingError(
        .invalidSetting,
        "the validation fraction is \(settings.validationFraction); use a value between 0 and 1, e.g. 0.25"
      )
    }
    guard settings.boundaryGap >= 0, settings.boundaryGap.isFinite else {
      throw TrainingError(
        .invalidSetting,
        "the boundary gap is \(settings.boundaryGap) s; use 0 or more seconds, e.g. 1")
    }
    var random = SeededRandom(seed: settings.seed)
    let moviesByLabel = Dictionary(grouping: manifest.movies.values, by: \.label)
    labels = moviesByLabel.keys.sorted()
    training = []
    validation = []
    excluded = []
    methods = [:]
    for label in labels {
      // Movies with no kept frame teach nothing and must not count as a validation movie.
      let movies = moviesByLabel[label, default: []]
        .map { TrainingSample.keptFrames(of: $0) }
        .filter { !$0.isEmpty }
        .sorted { $0[0].moviePath < $1[0].moviePath }
      let part: Part
      switch settings.strategy {
      case .randomFrames:
        part = try Self.splitFrames(label: label, movies, settings, &random)
      case .leakFree where movies.count >= 2:
        part = Self.splitMovies(movies, settings, &random)
      case .leakFree:
        part = try Self.splitTime(label: label, movies.first ?? [], settings)
      }
      training += part.training
      validation += part.validation
      excluded += part.excluded
      methods[label] = part.method
    }
  }

  private struct Part {
    var method: Method
    var training: [TrainingSample] = []
    var validation: [TrainingSample] = []
    var excluded: [TrainingSample] = []
  }

  private static func splitMovies(
    _ movies: [[TrainingSample]], _ settings: Settings, _ random: inout SeededRandom
  ) -> Part {
    let total = movies.reduce(0) { $0 + $1.count }
    let target = settings.validationFraction * Double(total)
    var order = Array(movies.indices)
    random.shuffle(&order)
    var chosen = Set<Int>()
    var validationCount = 0
    for movie in order where chosen.count < movies.count - 1 {
      let count = movies[movie].count
      if abs(Double(validationCount + count) - target) < abs(Double(validationCount) - target) {
        chosen.insert(movie)
        validationCount += count
      }
    }
    // Every movie overshoots the target: the smallest one is the closest single movie.
    if chosen.isEmpty, let smallest = order.min(by: { movies[$0].count < movies[$1].count }) {
      chosen.insert(smallest)
    }
    var part = Part(method: .byMovie)
    for (index, frames) in movies.enumerated() {
      if chosen.contains(index) { part.validation += frames } else { part.training += frames }
    }
    return part
  }

  private static func splitTime(
    label: Label, _ frames: [TrainingSample], _ settings: Settings
  ) throws -> Part {
    let validationCount = max(
      1, Int((settings.validationFraction * Double(frames.count)).rounded()))
    var part = Part(method: .byTime)
    if validationCount < frames.count {
      part.validation = Array(frames.suffix(validationCount))
      let boundary = part.validation[0].time - settings.boundaryGap
      for frame in frames.dropLast(validationCount) {
        if frame.time < boundary {
          part.training.append(frame)
        } else {
          part.excluded.append(frame)
        }
      }
    }
    guard !part.training.isEmpty else {
      let span = (frames.last?.time ?? 0) - (frames.first?.time ?? 0)
      throw TrainingError(
        .tooFewFrames,
        "class \(label) has \(frames.count) kept frame(s) in one movie spanning "
          + "\(String(format: "%.1f", span)) s: too few to hold out the last "
          + "\(Int(settings.validationFraction * 100))% with a \(settings.boundaryGap) s gap; "
          + "add another or a longer movie of \(label), or lower the gap")
    }
    return part
  }

  private static func splitFrames(
    label: Label, _ movies: [[TrainingSample]], _ settings: Settings,
    _ random: inout SeededRandom
  ) throws -> Part {
    var frames = movies.flatMap { $0 }
    guard frames.count >= 2 else {
      throw TrainingError(
        .tooFewFrames,
        "class \(label) has \(frames.count) kept frame(s); a split needs at least 2: add a movie of \(label)"
      )
    }
    let validationCount = min(
      frames.count - 1, max(1, Int((settings.validationFraction * Double(frames.count)).rounded())))
    random.shuffle(&frames)
    let order: (TrainingSample, TrainingSample) -> Bool = {
      ($0.moviePath, $0.time, $0.frameIndex) < ($1.moviePath, $1.time, $1.frameIndex)
    }
    var part = Part(method: .randomFrames)
    part.validation = frames.prefix(validationCount).sorted(by: order)
    part.training = frames.dropFirst(validationCount).sorted(by: order)
    return part
  }
}
