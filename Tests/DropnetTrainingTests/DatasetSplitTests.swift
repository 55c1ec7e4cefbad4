import DropnetDataset
import XCTest

@testable import DropnetTraining

/// Validation splits on real extracted frames, and on tables derived from them.
final class DatasetSplitTests: XCTestCase {
  private var manifest: Manifest!

  override func setUpWithError() throws {
    manifest = try TrainingFixtures.dataset().manifest
  }

  private func label(_ name: String) throws -> Label { try Label(validating: name) }

  /// A manifest with `frameCounts.count` movies of class `name`, frames every 0.125 s.
  private func manifest(_ classes: [String: [Int]]) throws -> Manifest {
    let template = try XCTUnwrap(manifest.movies.values.first)
    var result = Manifest()
    for (name, frameCounts) in classes {
      for (number, count) in frameCounts.enumerated() {
        let path = "\(name)/movie\(number).mov"
        result.movies[path] = TrainingFixtures.movie(
          template, path: path, label: try label(name),
          times: (0..<count).map { Double($0) * 0.125 })
      }
    }
    return result
  }

  func testRealDatasetSplitsByMovieAndByTime() throws {
    let split = try DatasetSplit(manifest: manifest)
    // walkers: 60 frames at 10 fps; the last 15 (from 4.5 s) validate, training ends 1 s before.
    let walkers = try label("walkers")
    XCTAssertEqual(split.validation.filter { $0.label == walkers }.count, 15)
    XCTAssertEqual(split.training.filter { $0.label == walkers }.count, 35)
    XCTAssertEqual(split.excluded.filter { $0.label == walkers }.count, 10)
    XCTAssertEqual(split.labels, [try label("street"), try label("walkers")])
    XCTAssertEqual(split.methods[try label("street")], .byMovie)
    XCTAssertEqual(split.methods[try label("walkers")], .byTime)
    // Every kept frame is used exactly once.
    let kept = manifest.movies.values.reduce(0) { $0 + $1.keptFrames.count }
    XCTAssertEqual(split.training.count + split.validation.count + split.excluded.count, kept)
    XCTAssertEqual(
      Set(split.training + split.validation + split.excluded).count, kept, "no frame twice")
    for name in ["street", "walkers"] {
      let label = try label(name)
      XCTAssertTrue(split.training.contains { $0.label == label }, "\(name) in training")
      XCTAssertTrue(split.validation.contains { $0.label == label }, "\(name) in validation")
    }
  }

  func testNoMovieMomentIsOnBothSides() throws {
    let settings = DatasetSplit.Settings()
    let split = try DatasetSplit(manifest: manifest, settings: settings)
    let validationByMovie = Dictionary(grouping: split.validation, by: \.moviePath)
    for sample in split.training {
      for held in validationByMovie[sample.moviePath, default: []] {
        XCTAssertGreaterThanOrEqual(
          abs(held.time - sample.time), settings.boundaryGap,
          "\(sample.relativePath) is \(abs(held.time - sample.time)) s from \(held.relativePath)")
      }
    }
    // By-movie classes share no movie at all.
    let streetTraining = Set(split.training.filter { $0.label.name == "street" }.map(\.moviePath))
    let streetValidation = Set(
      split.validation.filter { $0.label.name == "street" }.map(\.moviePath))
    XCTAssertEqual(streetTraining.count, 1)
    XCTAssertEqual(streetValidation.count, 1)
    XCTAssertTrue(streetTraining.isDisjoint(with: streetValidation))
  }

  func testTimeSplitHoldsOutTheLastQuarterAfterAGap() throws {
    // 40 frames 0.125 s apart: the last 10 (from 3.75 s) validate; training stops 1 s earlier.
    let split = try DatasetSplit(manifest: manifest(["cat": [40]]))
    XCTAssertEqual(split.validation.map(\.time), (30..<40).map { Double($0) * 0.125 })
    XCTAssertEqual(split.training.map(\.time), (0..<22).map { Double($0) * 0.125 })
    XCTAssertEqual(split.excluded.count, 8)
    XCTAssertEqual(split.excluded.map(\.time).max(), 29 * 0.125)
  }

  func testRatiosFollowTheSetting() throws {
    var settings = DatasetSplit.Settings()
    for fraction in [0.1, 0.25, 0.5] {
      settings.validationFraction = fraction
      // By movie: 8 movies of 10 frames; the greedy pick lands on the nearest whole movie.
      let byMovie = try DatasetSplit(
        manifest: manifest(["cat": Array(repeating: 10, count: 8)]), settings: settings)
      XCTAssertEqual(byMovie.validation.count, Int((fraction * 8).rounded()) * 10, "\(fraction)")
      // By time: round(fraction * n) frames.
      let byTime = try DatasetSplit(manifest: manifest(["cat": [80]]), settings: settings)
      XCTAssertEqual(byTime.validation.count, Int((fraction * 80).rounded()), "\(fraction)")
      // Random frames: the same per-class count, from anywhere.
      settings.strategy = .randomFrames
      let random = try DatasetSplit(manifest: manifest(["cat": [80]]), settings: settings)
      XCTAssertEqual(random.validation.count, Int((fraction * 80).rounded()), "\(fraction)")
      XCTAssertEqual(random.training.count, 80 - random.validation.count)
      settings.strategy = .leakFree
    }
  }

  func testSplitsAreDeterministicAndTheSeedMatters() throws {
    let table = try manifest(["cat": [10, 10, 10, 10], "dog": [30]])
    var settings = DatasetSplit.Settings()
    var chosen = Set<[String]>()
    for seed in UInt64(0)..<8 {
      settings.seed = seed
      let first = try DatasetSplit(manifest: table, settings: settings)
      let second = try DatasetSplit(manifest: table, settings: settings)
      XCTAssertEqual(first, second, "seed \(seed)")
      chosen.insert(
        Array(Set(first.validation.filter { $0.label.name == "cat" }.map(\.moviePath))).sorted())
      for strategy in DatasetSplit.Strategy.allCases {
        settings.strategy = strategy
        XCTAssertEqual(
          try DatasetSplit(manifest: table, settings: settings),
          try DatasetSplit(manifest: table, settings: settings))
      }
      settings.strategy = .leakFree
    }
    XCTAssertGreaterThan(chosen.count, 1, "different seeds hold out different movies")
    XCTAssertTrue(chosen.allSatisfy { $0.count == 1 }, "one movie of four is 25%")
  }

  func testWhenEveryMovieOvershootsTheSmallestValidates() throws {
    // Target 10% of 110 = 11 frames: either movie alone is further from it than none, yet
    // validation needs one; the smaller is the closer.
    var settings = DatasetSplit.Settings()
    settings.validationFraction = 0.1
    let split = try DatasetSplit(manifest: manifest(["cat": [60, 50]]), settings: settings)
    XCTAssertEqual(split.validation.count, 50)
    XCTAssertEqual(split.training.count, 60)
  }

  func testRandomFramesLeakNeighbours() throws {
    var settings = DatasetSplit.Settings()
    settings.strategy = .randomFrames
    let split = try DatasetSplit(manifest: manifest, settings: settings)
    XCTAssertTrue(split.methods.values.allSatisfy { $0 == .randomFrames })
    XCTAssertTrue(split.excluded.isEmpty)
    // The point of the comparison: held-out frames have training frames from the same moment.
    let leaks = split.validation.filter { held in
      split.training.contains { $0.moviePath == held.moviePath && abs($0.time - held.time) < 0.5 }
    }
    XCTAssertGreaterThan(leaks.count, split.validation.count * 9 / 10)
  }

  func testTooFewFramesNamesTheClass() throws {
    // 6 frames over 0.625 s: the held-out block leaves nothing 1 s before it.
    XCTAssertThrowsError(try DatasetSplit(manifest: manifest(["cat": [6], "dog": [40]]))) {
      let error = $0 as? TrainingError
      XCTAssertEqual(error?.code, .tooFewFrames)
      XCTAssertTrue(error?.message.contains("class cat has 6 kept frame(s)") ?? false, "\($0)")
    }
    // With no gap the same class splits 4 + 2 (round(1.5) = 2).
    var settings = DatasetSplit.Settings()
    settings.boundaryGap = 0
    let split = try DatasetSplit(manifest: manifest(["cat": [6]]), settings: settings)
    XCTAssertEqual([split.training.count, split.validation.count], [4, 2])
    // A single frame cannot be split at random either.
    settings.strategy = .randomFrames
    XCTAssertThrowsError(try DatasetSplit(manifest: manifest(["cat": [1]]), settings: settings)) {
      XCTAssertEqual(($0 as? TrainingError)?.code, .tooFewFrames)
    }
  }

  func testInvalidSettingsAreRejected() throws {
    var settings = DatasetSplit.Settings()
    for fraction in [0.0, 1.0, -0.1, .nan] {
      settings.validationFraction = fraction
      XCTAssertThrowsError(try DatasetSplit(manifest: manifest, settings: settings)) {
        XCTAssertEqual(($0 as? TrainingError)?.code, .invalidSetting)
      }
    }
    settings.validationFraction = 0.25
    settings.boundaryGap = -1
    XCTAssertThrowsError(try DatasetSplit(manifest: manifest, settings: settings))
  }

  func testSamplesPointAtTheExtractedJPEGs() throws {
    let dataset = try TrainingFixtures.dataset()
    let split = try DatasetSplit(manifest: dataset.manifest)
    for sample in split.training + split.validation {
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: sample.url(in: dataset.stateFolder).path),
        sample.relativePath)
    }
  }
}
