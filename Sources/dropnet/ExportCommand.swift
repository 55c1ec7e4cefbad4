import ArgumentParser
import DropnetCoreML
import DropnetModel
import Foundation

struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a checkpoint as a CoreML model (.mlmodel) for iOS.",
    discussion: """
      Writes OUT/<name>.mlmodel (a NeuralNetworkClassifier: image input `image`, 224x224 RGB, \
      scaled to [-1, 1] by the model itself; outputs `classLabel` and `classLabelProbs`) and \
      OUT/<name>.json (labels, export version, SHA-256, size). Both are written atomically: an \
      app or a sync job never sees a half-written model. The export version counts up with \
      every export into the same folder.

      Float32 weights need iOS 11; --float16 halves the file (iOS 11.2); --updatable marks the \
      last layer trainable on device with MLUpdateTask (iOS 13). \
      `--checkpoint imagenet` exports the imported ImageNet classifier itself.
      """
  )

  @Option(name: .long, help: "The checkpoint (.safetensors), or `imagenet`.")
  var checkpoint: String

  @Option(name: .long, help: "The output folder (created if missing).")
  var out: String

  @Option(name: .long, help: "Model name: the file is <name>.mlmodel.")
  var name: String = "DropnetClassifier"

  @Flag(name: .long, help: "Store weights as float16 (half the size).")
  var float16 = false

  @Flag(name: .long, help: "Make the last layer updatable on device (iOS 13).")
  var updatable = false

  @Option(name: .long, help: "Author written into the model's metadata.")
  var author: String = "dropnet"

  func run() throws {
    let options = CoreMLExportOptions(
      float16Weights: float16, updatable: updatable, author: author,
      dropnetVersion: DropnetVersion.string)
    do {
      let result: ExportResult
      if checkpoint == "imagenet" {
        var imagenet = try Checkpoint.read(from: WeightsLocation.imagenet)
        if imagenet.metadata.classLabels.isEmpty {
          imagenet.metadata.classLabels = ImageNetLabels.withBackground
        }
        result = try CoreMLExporter.export(
          checkpoint: imagenet, name: name, to: URL(fileURLWithPath: out), options: options)
      } else {
        let trained: Checkpoint
        do {
          trained = try Checkpoint.read(from: URL(fileURLWithPath: checkpoint))
        } catch let error as ModelError {
          FileHandle.standardError.write(
            Data(
              ("error: cannot export: \(error); pass a checkpoint written by "
                + "`dropnet weights import` or `dropnet train`\n").utf8))
          throw ExitCode(2)
        }
        // A trained head (Head/ tensors) is found and folded by the exporter itself.
        result = try CoreMLExporter.export(
          checkpoint: trained, name: name, to: URL(fileURLWithPath: out), options: options)
      }
      let summary = result.summary
      print(
        "wrote \(result.modelURL.path) (version \(summary.exportVersion), "
          + "\(summary.modelByteCount / 1024) KiB, \(summary.weightPrecision), "
          + "spec \(summary.specificationVersion) = \(summary.minimumIOS)+, "
          + "\(summary.classLabels.count) classes)")
    } catch let error as CoreMLExportError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    } catch let error as ModelError {
      FileHandle.standardError.write(
        Data(
          "error: \(error) (import the ImageNet weights first: dropnet weights import FILE.pb)\n"
            .utf8))
      throw ExitCode(2)
    }
  }
}
