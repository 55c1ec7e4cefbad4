import DropnetDataset
import DropnetExport
import DropnetModel
import DropnetReport
import DropnetTraining
import Foundation

/// The model card the daemon publishes with a model: made from the training outcome, the
/// gate's decision and the export, rendered as the page beside the model and the one in
/// `versions/` (the pictures made once for both), and archived in the state folder
/// (`ModelCardArchive`) for the history of later pages and for `dropnet report`.
struct ModelCardMaker {
  /// The daemon's state folder (manifest, frames, archive).
  var stateFolder: URL
  /// The output folder the model is published in.
  var outputFolder: URL
  /// The model's name.
  var name: String

  var archive: ModelCardArchive { ModelCardArchive(stateFolder: stateFolder) }

  /// The card of `outcome` as exported in `summary`, trained by `pass` in `mode` and let
  /// through by `gate`; `heldOut` is the model's score on the held-out photos.
  func card(
    _ outcome: TrainingOutcome, pass: ServicePlanner.Pass, mode: FineTuneMode,
    gate: ModelCard.Gate, heldOut: HeldOutPhotos.Score?, summary: ExportSummary
  ) throws -> ModelCard {
    let manifest = try Manifest.load(from: stateFolder)
    let framing = InputFraming(checkpoint: outcome.checkpoint)
    var report = outcome.report
    report?.heldOut = heldOut
    return ModelCard(
      name: name, version: summary.exportVersion, date: summary.exportedAt,
      labels: outcome.labels, framing: framing, folder: outputFolder.standardizedFileURL.path,
      files: summary.files.map {
        ModelCard.File(
          format: Self.formatName($0.format), name: $0.file, byteCount: $0.byteCount,
          sha256: $0.sha256, runtime: $0.runtime)
      },
      usage: summary.files.map { Self.usage($0.format, name: name, framing: framing) },
      trainedBy: pass == .fast ? "fast pass" : "second pass", mode: mode.description,
      seconds: outcome.seconds, epochs: outcome.history.epochs.map(ModelCard.Epoch.init),
      bestEpoch: outcome.bestEpoch, gate: gate, report: report,
      movies: ModelCard.movies(of: manifest, labels: outcome.labels))
  }

  /// What a person calls the format.
  static func formatName(_ format: ExportFormat) -> String {
    switch format {
    case .mlmodel: "CoreML"
    case .onnx: "ONNX"
    case .tflite: "TFLite"
    }
  }

  /// The lines an app uses the file of `format` with.
  static func usage(_ format: ExportFormat, name: String, framing: InputFraming)
    -> ModelCard.Usage
  {
    switch format {
    case .mlmodel: ModelCard.coreMLUsage(name: name, framing: framing)
    case .onnx: ModelCard.onnxUsage(name: name, framing: framing)
    case .tflite: ModelCard.tfliteUsage(name: name, framing: framing)
    }
  }

  /// The two pages of `card`; the history lists the archived versions before it and itself.
  func pages(_ card: ModelCard) -> ModelPublisher.Pages {
    let history = archive.cards().filter { ($0.version ?? 0) < (card.version ?? 0) } + [card]
    let pictures = ModelCardPictures(stateFolder: stateFolder)
    func page(_ location: ModelCardPage.Location) -> Data {
      Data(
        ModelCardPage(card: card, history: history, pictures: pictures, location: location).html
          .utf8)
    }
    return ModelPublisher.Pages(current: page(.besideModel), version: page(.versionsFolder))
  }
}
