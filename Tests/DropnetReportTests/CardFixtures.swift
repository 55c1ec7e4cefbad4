import DropnetMedia
import DropnetModel
import DropnetReport
import DropnetTestSupport
import DropnetTraining
import Foundation

/// A model card with every section filled, on a state folder of small real JPEGs: labels that
/// need escaping, a movie with dropped frames, mistakes, held-out photos and a gate.
enum CardFixtures {
  /// Labels with HTML's special characters and non-Latin script.
  static let labels = ["fish", "<b> & \"x\"", "日本語"]

  /// A state folder with the frames the card's movies and mistakes name, and a held-out photo.
  static func stateFolder() throws -> URL {
    let state = try TestFiles.temporaryFolder("cardstate")
    let frames = [
      "frames/fish/m1/0.jpg", "frames/fish/m1/8.jpg", "frames/fish/m1/dropped/4.jpg",
      "frames/<b> & \"x\"/m2/0.jpg", "frames/日本語/m3/0.jpg", "heldout/fish/photo #1.jpg",
    ]
    for (number, path) in frames.enumerated() {
      let url = state.appendingPathComponent(path)
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try picture(shade: UInt8(40 * number + 20)).writeJPEG(to: url.path)
    }
    return state
  }

  /// A 320x240 picture with a gradient and a square, so thumbnails have something to show.
  static func picture(shade: UInt8) throws -> Image {
    var bytes: [UInt8] = []
    for y in 0..<240 {
      for x in 0..<320 {
        let inside = (100..<220).contains(x) && (60..<180).contains(y)
        bytes += inside ? [shade, 255 - shade, 200] : [UInt8(x % 256), UInt8(y), shade]
      }
    }
    return try Image(bytes: bytes, width: 320, height: 240, channelCount: 3)
  }

  /// The report of three classes: 10 validation frames each, two mistakes.
  static func report(heldOutPhoto: String) throws -> TrainingReport {
    let json: [String: Any] = [
      "labels": labels, "bestEpoch": 2, "validationLoss": 0.41, "validationAccuracy": 28.0 / 30,
      "classes": [
        [
          "label": labels[0], "trainingFrames": 30, "validationFrames": 10,
          "splitMethod": "by-time", "precision": 1.0, "recall": 0.8,
        ],
        [
          "label": labels[1], "trainingFrames": 25, "validationFrames": 10,
          "splitMethod": "by-time", "precision": 10.0 / 12, "recall": 1.0,
        ],
        [
          "label": labels[2], "trainingFrames": 20, "validationFrames": 10,
          "splitMethod": "by-movie", "precision": 1.0, "recall": 1.0,
        ],
      ],
      "confusionMatrix": [[8, 2, 0], [0, 10, 0], [0, 0, 10]],
      "trainingImbalanceRatio": 1.5, "datasetHash": String(repeating: "a", count: 64),
      "settings": [
        "fineTune": "head", "epochs": 3, "batchSize": 32, "learningRate": 0.001,
        "momentum": 0.9, "weightDecay": 0, "dropoutRate": 0.5, "hiddenCount": 256,
        "augmentedCopies": 0, "balanceClasses": true, "split": "leak-free",
        "validationFraction": 0.25, "boundaryGap": 1, "seed": 0,
      ],
      "timings": ["features": 1.5, "training": 2.5, "total": 4.25, "epochs": [1.0, 0.75, 0.75]],
      "heldOut": [
        "accuracy": 0.5, "correct": 1, "total": 2, "perClass": ["fish": [1, 2]],
        "mistakes": [
          ["photo": heldOutPhoto, "label": "fish", "predicted": labels[1], "probability": 0.75]
        ],
        "unknownLabels": [],
      ],
      "validationMistakes": [
        [
          "frame": "frames/fish/m1/8.jpg", "movie": "fish.mov", "label": "fish",
          "predicted": labels[1],
        ],
        [
          "frame": "frames/fish/m1/missing.jpg", "movie": "fish.mov", "label": "fish",
          "predicted": labels[1],
        ],
      ],
    ]
    return try JSONDecoder().decode(
      TrainingReport.self, from: JSONSerialization.data(withJSONObject: json))
  }

  /// The card of version `version` (nil: a training run) whose files are in `folder`.
  static func card(
    state: URL, version: Int? = 3, folder: String = "/srv/models", labels: [String] = labels,
    movies extra: [ModelCard.Movie] = []
  ) throws -> ModelCard {
    let epochs = (1...3).map { (number: Int) -> ModelCard.Epoch in
      let step = Double(number)
      let validationLoss: Double = number == 3 ? 0.5 : 0.6 - 0.1 * step
      return ModelCard.Epoch(
        TrainingHistory.Epoch(
          epoch: number, loss: 1.0 / step, accuracy: 0.5 + 0.1 * step,
          validationLoss: validationLoss, validationAccuracy: 0.6 + 0.1 * step,
          learningRate: 0.001, seconds: 0.75))
    }
    let movies =
      [
        ModelCard.Movie(
          path: "fish.mov", label: "fish", movieID: "m1", keptFrames: 2, blurredFrames: 1,
          duplicateFrames: 0, seconds: 11.4, trained: true,
          samples: [
            .init(index: 0, dropReason: nil), .init(index: 8, dropReason: nil),
            .init(index: 4, dropReason: .blurred),
          ]),
        ModelCard.Movie(
          path: "x/a <b> & \"c\".mov", label: Self.labels[1], movieID: "m2", keptFrames: 1,
          blurredFrames: 2, duplicateFrames: 3, seconds: 2, trained: true,
          samples: [.init(index: 0, dropReason: nil), .init(index: 5, dropReason: .duplicate)]),
        ModelCard.Movie(
          path: "日本語.mov", label: Self.labels[2], movieID: "m3", keptFrames: 1, blurredFrames: 0,
          duplicateFrames: 0, seconds: 3, trained: true, samples: [.init(index: 0, dropReason: nil)]
        ),
      ].filter { labels.contains($0.label) } + extra
    return ModelCard(
      name: "Signs", version: version, date: "2026-02-01T10:20:30Z", labels: labels,
      framing: .centerCrop, folder: folder,
      files: [
        ModelCard.File(
          format: "CoreML", name: "Signs.mlmodel", byteCount: 16_900_000,
          sha256: String(repeating: "b", count: 64), runtime: "iOS 11 or later")
      ],
      usage: [ModelCard.coreMLUsage(name: "Signs", framing: .centerCrop)],
      trainedBy: "fast pass", mode: "head", seconds: 4.25, epochs: epochs, bestEpoch: 2,
      gate: ModelCard.Gate(
        verdict: "not worse: new val acc 0.933, published 0.900 on the current validation set",
        measure: "validation accuracy", candidate: 28.0 / 30, published: 0.9),
      report: try report(
        heldOutPhoto: state.appendingPathComponent("heldout/fish/photo #1.jpg").path),
      movies: movies)
  }
}
