import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

extension ModelCard {
  /// The card of a `dropnet train` run folder: `report.json`, `history.csv` and
  /// `best.safetensors` (its framing and training date), with the movies of `manifest` (the
  /// state folder it trained on). `name` names the model in the page and its usage lines.
  /// Throws `ModelCardError` naming a missing or unreadable file.
  public static func trainingRun(_ run: URL, manifest: Manifest, name: String) throws -> ModelCard {
    func read(_ file: String) throws -> Data {
      let url = run.appendingPathComponent(file)
      guard let data = FileManager.default.contents(atPath: url.path) else {
        throw ModelCardError(
          "cannot read \(url.path); is \(run.path) a `dropnet train` run folder (--run)?")
      }
      return data
    }
    let report: TrainingReport
    let history: TrainingHistory
    let checkpoint: Checkpoint
    do {
      let decoder = JSONDecoder()
      decoder.nonConformingFloatDecodingStrategy = .convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      report = try decoder.decode(TrainingReport.self, from: try read("report.json"))
      history = try TrainingHistory(csv: String(decoding: try read("history.csv"), as: UTF8.self))
      checkpoint = try Checkpoint(
        serialized: try read("best.safetensors"),
        file: run.appendingPathComponent("best.safetensors").path)
    } catch let error as ModelCardError {
      throw error
    } catch {
      throw ModelCardError(
        "cannot read the run in \(run.path) (\(error)); train it again with `dropnet train`")
    }
    let checkpointFile = run.appendingPathComponent("best.safetensors")
    let size =
      (try? FileManager.default.attributesOfItem(atPath: checkpointFile.path)[.size] as? Int)
      ?? 0
    let framing = InputFraming(checkpoint: checkpoint)
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    let trained =
      TrainingFacts(entries: checkpoint.metadata.extra)?.trainingDate
      ?? ((try? FileManager.default.attributesOfItem(
        atPath: run.appendingPathComponent("report.json").path)[.modificationDate]) as? Date)
      ?? Date()
    let export = Usage(
      language: "Shell",
      code: "dropnet export --checkpoint \(Self.shellQuoted(checkpointFile.path)) "
        + "--out ~/models --name \(Self.shellQuoted(name))")
    return ModelCard(
      name: name, version: nil, date: formatter.string(from: trained), labels: report.labels,
      framing: framing, folder: run.standardizedFileURL.path,
      files: [
        File(
          format: "dropnet checkpoint", name: "best.safetensors", byteCount: size, sha256: nil,
          runtime: "dropnet predict, dropnet export")
      ],
      usage: [export, coreMLUsage(name: name, framing: framing)], trainedBy: "dropnet train",
      mode: report.settings.fineTune, seconds: report.timings.total,
      epochs: history.epochs.map(Epoch.init), bestEpoch: report.bestEpoch, gate: nil,
      report: report, movies: movies(of: manifest, labels: report.labels))
  }

  /// `text` as one shell word.
  static func shellQuoted(_ text: String) -> String {
    let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "/._-~+:@".contains($0) }
    return plain && !text.isEmpty
      ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
