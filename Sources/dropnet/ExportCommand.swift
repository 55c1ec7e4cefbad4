import ArgumentParser
import DropnetExport
import DropnetModel
import Foundation

struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a checkpoint as CoreML (.mlmodel), ONNX (.onnx) and TFLite (.tflite) models.",
    discussion: """
      Writes, for each format of --format (default: all three, what `dropnet serve` publishes):

      - OUT/<name>.mlmodel: CoreML NeuralNetworkClassifier for iOS: image input `image`, \
      224x224 RGB, scaled to [-1, 1] by the model itself; outputs `classLabel` and \
      `classLabelProbs`. Float32 needs iOS 11, --float16 iOS 11.2, --updatable (the last \
      layer trainable on device with MLUpdateTask) iOS 13.
      - OUT/<name>.onnx: ONNX opset 13 (ONNX Runtime on Android and elsewhere): input \
      `image`, uint8 RGB NHWC [batch, 224, 224, 3], scaled inside the graph; outputs \
      `probabilities` and `label_index`; labels in metadata_props `labels` (JSON).
      - OUT/<name>.tflite: TFLite (LiteRT, MediaPipe Tasks ImageClassifier on Android): \
      input `image`, float32 [1, 224, 224, 3]; output `probabilities`; metadata with the \
      normalisation (mean 127.5, std 127.5), the image properties and the label file.
      - OUT/<name>.json: labels, export version, each file with its SHA-256 and size.

      The model expects the part of the photo it was trained on (`input_framing` in its \
      metadata): the centred square by default, what iOS Vision gives with \
      `imageCropAndScaleOption = .centerCrop`.

      Every file is written atomically, the summary last: an app or a sync job never sees a \
      half-written model. The export version counts up with every export into the same \
      folder and is stored inside every file. --float16 halves every file (weights stored as \
      half floats, arithmetic in float32). `--checkpoint imagenet` exports the imported \
      ImageNet classifier itself.
      """
  )

  @Option(name: .long, help: "The checkpoint (.safetensors), or `imagenet`.")
  var checkpoint: String

  @Option(name: .long, help: "The output folder (created if missing).")
  var out: String

  @Option(name: .long, help: "Model name: the files are <name>.mlmodel, .onnx, .tflite.")
  var name: String = "DropnetClassifier"

  @Option(
    name: .long,
    help: "Formats, comma-separated: mlmodel, onnx, tflite (default: all three).")
  var format: String = ExportFormat.text(ExportFormat.allCases)

  @Flag(name: .long, help: "Store weights as float16 (half the size).")
  var float16 = false

  @Flag(name: .long, help: "Make the CoreML model's last layer updatable on device (iOS 13).")
  var updatable = false

  @Option(name: .long, help: "Author written into the models' metadata.")
  var author: String = "dropnet"

  func run() throws {
    let options = ExportOptions(
      float16Weights: float16, updatable: updatable, author: author,
      dropnetVersion: DropnetVersion.string)
    do {
      let formats = try ExportFormat.list(format)
      var source: Checkpoint
      if checkpoint == "imagenet" {
        source = try Checkpoint.read(from: WeightsLocation.imagenet)
        if source.metadata.classLabels.isEmpty {
          source.metadata.classLabels = ImageNetLabels.withBackground
        }
      } else {
        do {
          source = try Checkpoint.read(from: URL(fileURLWithPath: checkpoint))
        } catch let error as ModelError {
          FileHandle.standardError.write(
            Data(
              ("error: cannot export: \(error); pass a checkpoint written by "
                + "`dropnet weights import` or `dropnet train`\n").utf8))
          throw ExitCode(2)
        }
      }
      // A trained head (Head/ tensors) is found and folded by the exporter itself.
      let result = try ModelExporter.export(
        checkpoint: source, name: name, to: URL(fileURLWithPath: out), formats: formats,
        options: options)
      let summary = result.summary
      for file in summary.files {
        print(
          "wrote \(out)/\(file.file) (version \(summary.exportVersion), "
            + "\(file.byteCount / 1024) KiB, \(summary.weightPrecision), \(file.runtime), "
            + "\(summary.classLabels.count) classes)")
      }
      print("wrote \(result.summaryURL.path) (each file with its SHA-256)")
    } catch let error as ExportError {
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
