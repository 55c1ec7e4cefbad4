import ArgumentParser
import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Fine-tune MobileNet v1 on the extracted frames and keep the best epoch.",
    discussion: """
      Reads STATE/manifest.json and the frames `dropnet extract` wrote, splits them without
      leakage (whole movies when a class has several, else the last 25% of each movie by
      time, with a 1 s gap), and trains the seed's head (Dense 256, ReLU, BatchNorm, Dropout
      0.5, Dense, softmax) with SGD (lr 1e-3, momentum 0.9) and class-balanced loss weights.
      The epoch with the lowest validation loss is kept.

      This version trains the head on cached ImageNet features (`--fine-tune head`, the fast
      mode); batch-norm and deeper fine-tuning are still to come.

      Writes RUN/best.safetensors (base + head, labels in training order), RUN/history.csv
      (epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds), RUN/curves.png and
      RUN/report.json. Export the result with `dropnet export --checkpoint RUN/best.safetensors`.
      """
  )

  @Option(name: .long, help: "The state folder `dropnet extract` wrote.")
  var state: String

  @Option(name: .customLong("run"), help: "The run folder for the checkpoint, history and curves.")
  var runFolder: String

  @Option(name: .long, help: "What trains: `head` (the base stays frozen).")
  var fineTune: String = "head"

  @Option(name: .long, help: "Epochs.")
  var epochs: Int = 30

  @Option(name: .long, help: "Learning rate.")
  var learningRate: Double = 1e-3

  @Option(name: .long, help: "Share of each class held out for validation.")
  var validation: Double = 0.25

  @Option(
    name: .long,
    help:
      "Validation split: `leak-free` (by movie or time block) or `random-frames` (the seed's Keras split, which leaks neighbouring frames; for comparison)."
  )
  var split: String = DatasetSplit.Strategy.leakFree.rawValue

  @Option(name: .long, help: "Most frames per class and side (training, validation) to use.")
  var maxFramesPerClass: Int?

  @Option(name: .long, help: "Seed for initialisation, shuffling and dropout.")
  var seed: UInt64 = 0

  @Option(name: .long, help: "Base weights (default: the imported ImageNet weights).")
  var weights: String?

  // Warm start (issue 4): continue from an earlier run's best checkpoint.
  @Option(
    name: .customLong("from"),
    help:
      "Continue from this checkpoint (an earlier best.safetensors): its base weights and head, its class order; new classes are added, removed ones dropped (--weights is not used)."
  )
  var warmStartPath: String?

  func validate() throws {
    if fineTune != "head" {
      throw ValidationError("--fine-tune \(fineTune) is not available yet; use `head`")
    }
    if DatasetSplit.Strategy(rawValue: split) == nil {
      throw ValidationError("--split must be leak-free or random-frames")
    }
    if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
    if !(0.05...0.9).contains(validation) {
      throw ValidationError("--validation must be within 0.05-0.9")
    }
  }

  func run() throws {
    let terminal = Terminal()
    let stateURL = URL(fileURLWithPath: state)
    let runURL = URL(fileURLWithPath: runFolder)
    do {
      let manifest = try Manifest.load(from: stateURL)
      let warmStart = try warmStartPath.map { try Checkpoint.read(from: URL(fileURLWithPath: $0)) }
      let baseURL = weights.map { URL(fileURLWithPath: $0) } ?? WeightsLocation.imagenet
      // The head was trained on the features of the warm-start checkpoint's own base.
      let base = try warmStart ?? Checkpoint.read(from: baseURL)
      var settings = HeadTrainer.Settings()
      settings.epochs = epochs
      settings.learningRate = learningRate
      settings.split.validationFraction = validation
      settings.split.strategy = DatasetSplit.Strategy(rawValue: split) ?? .leakFree
      settings.maximumFramesPerClass = maxFramesPerClass
      settings.seed = seed
      try settings.validate()
      terminal.progress("computing ImageNet features of the frames...")
      let cache = try FeatureCache(baseWeights: base.tensors, stateFolder: stateURL)
      let started = Date()
      let result = try HeadTrainer(settings: settings).train(
        manifest: manifest, cache: cache, warmStart: warmStart)
      terminal.clearProgress()
      let seconds = Date().timeIntervalSince(started)
      try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
      try result.history.writeCSV(to: runURL.appendingPathComponent("history.csv"))
      try result.history.writeCurves(to: runURL.appendingPathComponent("curves.png"))
      try writeCheckpointAndReport(result, settings: settings, base: base, seconds: seconds)
      print(
        Terminal.table(
          header: ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"],
          rows: result.history.epochs.map {
            [
              "\($0.epoch)" + ($0.epoch == result.bestEpoch ? " *" : ""),
              String(format: "%.4f", $0.loss), String(format: "%.3f", $0.accuracy),
              String(format: "%.4f", $0.validationLoss),
              String(format: "%.3f", $0.validationAccuracy),
            ]
          }))
      print(
        "best epoch \(result.bestEpoch) (* above) -> \(runURL.path)/best.safetensors; "
          + "curves: \(runURL.path)/curves.png (\(String(format: "%.1f", seconds)) s)")
    } catch let error as TrainingError {
      terminal.note("error: \(error)")
      throw ExitCode(2)
    } catch let error as DatasetError {
      terminal.note("error: \(error)")
      throw ExitCode(2)
    } catch let error as ModelError {
      terminal.note(
        "error: \(error) (import the ImageNet weights first: dropnet weights import FILE.pb)")
      throw ExitCode(2)
    }
  }

  /// best.safetensors with the run's `TrainingFacts` in its metadata, and report.json.
  private func writeCheckpointAndReport(
    _ result: HeadTrainer.Result, settings: HeadTrainer.Settings, base: Checkpoint,
    seconds: Double
  ) throws {
    let runURL = URL(fileURLWithPath: runFolder)
    var facts = TrainingFacts(
      result: result, fineTuneMode: fineTune, split: settings.split.strategy,
      dropnetVersion: DropnetVersion.string)
    facts.warmStartedFrom = try warmStartPath.map {
      try FileFingerprint.contentHash(path: $0)
    }
    let checkpoint = HeadTrainer.checkpoint(
      base: base, head: result.bestHead, labels: result.labels, extra: facts.entries)
    try checkpoint.write(to: runURL.appendingPathComponent("best.safetensors"))
    let report = TrainingReport(
      result: result,
      settings: TrainingReport.Settings(
        settings, fineTune: fineTune, warmStartFrom: warmStartPath),
      totalSeconds: seconds)
    try report.write(to: runURL.appendingPathComponent("report.json"))
  }
}
