import ArgumentParser
import DropnetDataset
import DropnetEngine
import DropnetModel
import DropnetTraining
import Foundation

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Fine-tune MobileNet v1 on the extracted frames and keep the best epoch.",
    discussion: """
      Reads STATE/manifest.json and the frames `dropnet extract` wrote, splits them without \
      leakage (whole movies when a class has several, else the last 25% of each movie by \
      time, with a 1 s gap), and trains the seed's head (Dense 256, ReLU, BatchNorm, Dropout \
      0.5, Dense, softmax) with SGD (momentum 0.9; learning rate 5e-3 for the head, the \
      seed's 1e-3 when the base trains too) and class-balanced loss weights. \
      The epoch with the lowest validation loss is kept.

      What trains (`--fine-tune`): `head` trains the head on cached ImageNet features (the \
      base frozen, fast): each frame's features are computed once for the plain frame and \
      for --augmented-copies (4) augmented draws of it, and every epoch trains each frame \
      once as one of its copies. `bn` also trains every batch norm of the base (gamma and \
      beta, in batch-statistics mode); `top:K` also the convolutions of the last K of its 13 \
      blocks; `all` everything. The base-training modes decode and augment frames on the fly \
      (`--no-augment` turns augmentation off in every mode) and run the whole network every \
      step.

      Every image is framed as the phone's app gives it to the exported model (--framing, \
      the centred square by default). Held-out photos (--heldout, default DROP/.heldout) are \
      scored through the kept model and reported beside the validation figures.

      Writes RUN/best.safetensors (base + head, labels in training order), RUN/history.csv \
      (epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds), RUN/curves.png and \
      RUN/report.json. Export the result with `dropnet export --checkpoint RUN/best.safetensors`.
      """
  )

  @Option(name: .long, help: "The state folder `dropnet extract` wrote.")
  var state: String

  @Option(name: .customLong("run"), help: "The run folder for the checkpoint, history and curves.")
  var runFolder: String

  @Option(name: .long, help: "What trains: `head` (base frozen), `bn`, `top:K` (K 1-13) or `all`.")
  var fineTune: String = "head"

  @Option(name: .long, help: "Images per step (default: 32 for head, 16 for the base modes).")
  var batchSize: Int?

  @Option(name: .long, help: "Engine threads (default: all cores).")
  var threads: Int?

  @Option(
    name: .long,
    help:
      "What the base network computes in: auto (bfloat16 where the CPU runs it natively and faster than float32, as measured at start-up; else float32), float32 or bfloat16. The head, master weights and exported models stay float32."
  )
  var precision: String = "auto"

  @Option(
    name: .long,
    help:
      "How a photo becomes the model's input, as the app asks iOS Vision for it: center_crop (Vision's default .centerCrop: the centred square) or scale_fill (.scaleFill: the whole photo squashed). Training, validation and predict all use it."
  )
  var framing: String = InputFraming.centerCrop.rawValue

  @Flag(
    name: .long, inversion: .prefixedNo,
    help:
      "Augment frames: on the fly in the base-training modes; in head mode as --augmented-copies cached draws per frame."
  )
  var augment = true

  @Option(
    name: .long,
    help:
      "Head mode: augmented draws of each training frame whose features are computed once and cached beside the plain frame (0 = plain frames only; each copy costs one more pass of the base over the training frames)."
  )
  var augmentedCopies: Int = TrainingSettings(mode: .head).augmentedCopies

  @Option(name: .long, help: "Weight decay on kernels (0 = off).")
  var weightDecay: Double = 0

  @Option(name: .long, help: "Epochs.")
  var epochs: Int = 30

  @Option(
    name: .long,
    help: "SGD learning rate (default: 0.005 for head, the seed's 0.001 for the base modes).")
  var learningRate: Double?

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

  @Option(
    name: .long,
    help:
      "Held-out photos to score the kept model on (never trained on): FOLDER/<label>/<photo>. Default: .heldout in the drop folder the state was extracted from, when it exists."
  )
  var heldout: String?

  // Warm start: continue from an earlier run's best checkpoint.
  @Option(
    name: .customLong("from"),
    help:
      "Continue from this checkpoint (an earlier best.safetensors): its base weights and head, its class order; new classes are added, removed ones dropped (--weights is not used)."
  )
  var warmStartPath: String?

  func validate() throws {
    if FineTuneMode(fineTune) == nil {
      throw ValidationError("--fine-tune must be head, bn, top:K (K 1-13) or all")
    }
    if let batchSize, batchSize < 2 { throw ValidationError("--batch-size must be at least 2") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if weightDecay < 0 { throw ValidationError("--weight-decay must be 0 or more") }
    if augmentedCopies < 0 { throw ValidationError("--augmented-copies must be 0 or more") }
    if DatasetSplit.Strategy(rawValue: split) == nil {
      throw ValidationError("--split must be leak-free or random-frames")
    }
    if epochs < 1 { throw ValidationError("--epochs must be at least 1") }
    if Precision(setting: precision) == nil {
      throw ValidationError("--precision must be auto, float32 or bfloat16")
    }
    if InputFraming(rawValue: framing) == nil {
      throw ValidationError("--framing must be center_crop or scale_fill")
    }
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
      // A warm start continues the checkpoint's own base: its head learnt that base's features.
      let start = try warmStart ?? Checkpoint.read(from: baseURL)
      let settings = self.settings
      try settings.validate()
      let started = Date()
      if settings.mode == .head {
        terminal.progress("computing ImageNet features of the frames...")
      }
      let result = try Trainer(settings: settings).train(
        manifest: manifest, stateFolder: stateURL, start: start, warmStart: warmStart
      ) { progress in
        if progress.isComputingFeatures {
          terminal.progress(
            "computing ImageNet features: \(progress.featuresComputed)/"
              + "\(progress.featuresToCompute) images (frames and \(settings.cachedCopies) "
              + "augmented copies of each training frame)")
        } else {
          terminal.progress(
            "epoch \(progress.epoch)/\(progress.epochs) step \(progress.step)/\(progress.steps) "
              + "loss \(String(format: "%.4f", progress.loss))")
        }
      }
      terminal.clearProgress()
      if settings.mode != .head {
        terminal.note(
          "fine-tune \(settings.mode): "
            + "\(String(format: "%.1f", result.trainingImagesPerSecond)) training images/s, "
            + "\(String(format: "%.1f", result.loaderWaitSeconds)) s waiting for frames")
      }
      let seconds = Date().timeIntervalSince(started)
      try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
      try result.history.writeCSV(to: runURL.appendingPathComponent("history.csv"))
      try result.history.writeCurves(
        to: runURL.appendingPathComponent("curves.png"), bestEpoch: result.bestEpoch)
      let heldOutScore = try scoreHeldOut(
        result.checkpoint(from: start), manifest: manifest, threads: settings.threads)
      try writeCheckpointAndReport(
        result, settings: settings, start: start, seconds: seconds, heldOut: heldOutScore)
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
      if let heldOutScore {
        print(
          "held-out photos: \(heldOutScore.correct)/\(heldOutScore.total) = "
            + String(format: "%.3f", heldOutScore.accuracy)
            + heldOutScore.mistakes.map {
              "\n  wrong: \($0.photo) (\($0.label)) -> \($0.predicted)"
            }
            .joined())
      }
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

  /// The options as training settings; `--batch-size` falls back to the mode's default.
  private var settings: TrainingSettings {
    var settings = TrainingSettings(mode: FineTuneMode(fineTune) ?? .head)
    settings.epochs = epochs
    settings.learningRate = learningRate
    settings.weightDecay = weightDecay
    settings.split.validationFraction = validation
    settings.split.strategy = splitStrategy
    settings.maximumFramesPerClass = maxFramesPerClass
    settings.seed = seed
    settings.batchSize = batchSize
    settings.threads = threads ?? settings.threads
    settings.augmentation = augment ? Augmentation() : nil
    settings.augmentedCopies = augment ? augmentedCopies : 0
    settings.framing = InputFraming(rawValue: framing) ?? .centerCrop
    settings.precision = Precision(setting: precision) ?? .float32
    return settings
  }

  private var splitStrategy: DatasetSplit.Strategy {
    DatasetSplit.Strategy(rawValue: split) ?? .leakFree
  }

  /// The held-out photos' score of `checkpoint`: `--heldout`, else `.heldout` in the drop
  /// folder of the manifest's movies; nil when there are none.
  private func scoreHeldOut(_ checkpoint: Checkpoint, manifest: Manifest, threads: Int) throws
    -> HeldOutPhotos.Score?
  {
    let folder =
      heldout.map { URL(fileURLWithPath: $0) }
      ?? manifest.dropFolder.map { URL(fileURLWithPath: $0).appendingPathComponent(".heldout") }
    guard let folder else { return nil }
    let photos = HeldOutPhotos(folder: folder)
    if photos.isEmpty, heldout != nil {
      throw TrainingError(
        .invalidSetting,
        "no held-out photos in \(folder.path); put them in FOLDER/<label>/<photo>.jpg")
    }
    return try photos.isEmpty ? nil : photos.score(checkpoint, threads: threads)
  }

  /// best.safetensors with the run's `TrainingFacts` in its metadata, and report.json.
  private func writeCheckpointAndReport(
    _ result: TrainingResult, settings: TrainingSettings, start: Checkpoint, seconds: Double,
    heldOut: HeldOutPhotos.Score?
  ) throws {
    let runURL = URL(fileURLWithPath: runFolder)
    var facts = TrainingFacts(
      result: result, split: splitStrategy, dropnetVersion: DropnetVersion.string)
    facts.warmStartedFrom = try warmStartPath.map {
      try FileFingerprint.contentHash(path: $0)
    }
    var entries = facts.entries
    entries[HeldOutPhotos.accuracyKey] = heldOut.map { String($0.accuracy) }
    let checkpoint = result.checkpoint(from: start, facts: entries)
    try checkpoint.write(to: runURL.appendingPathComponent("best.safetensors"))
    let report = TrainingReport(
      result: result,
      settings: TrainingReport.Settings(settings, warmStartFrom: warmStartPath),
      totalSeconds: seconds, heldOut: heldOut)
    try report.write(to: runURL.appendingPathComponent("report.json"))
  }
}
