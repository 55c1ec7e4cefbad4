import ArgumentParser
import DropnetArchitecture
import DropnetEngine
import DropnetMedia
import DropnetModel
import DropnetTraining
import Foundation

struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Classify images with the ImageNet model or a dropnet checkpoint.",
    discussion: """
      Each image is decoded with OpenCV, framed as the model was trained (its input framing: \
      the centred square for iOS Vision's default `.centerCrop`, the whole image squashed for \
      `.scaleFill`), resized to 224x224 and scaled to [-1, 1]: the view the app gives the \
      exported model, so these are the phone's probabilities. `--model imagenet` is the \
      imported ImageNet MobileNet v1 (import it once with `dropnet weights import`); a path \
      names a checkpoint (.safetensors).
      """
  )

  @Option(name: .long, help: "`imagenet`, or the path of a checkpoint (.safetensors).")
  var model: String = "imagenet"

  @Option(name: .long, help: "How many classes to show per image.")
  var top: Int = 5

  @Option(name: .long, help: "oneDNN threads (default: the machine's cores).")
  var threads: Int?

  @Flag(name: .long, help: "Print JSON instead of text.")
  var json = false

  @Argument(help: "Image files (JPEG, PNG, ...).")
  var images: [String]

  struct Prediction: Codable {
    var image: String
    var top: [Scored]
  }

  struct Scored: Codable {
    var label: String
    var probability: Double
  }

  func validate() throws {
    if top < 1 { throw ValidationError("--top must be at least 1") }
    if images.isEmpty { throw ValidationError("name at least one image") }
  }

  func run() throws {
    let path = model == "imagenet" ? WeightsLocation.imagenet : URL(fileURLWithPath: model)
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: path)
    } catch let error as ModelError {
      let advice =
        model == "imagenet"
        ? " (import the ImageNet weights first: bash examples/fetch-weights.sh && dropnet weights import examples/weights/mobilenet_v1_imagenet.pb)"
        : ""
      FileHandle.standardError.write(Data("error: \(error)\(advice)\n".utf8))
      throw ExitCode(2)
    }
    let classifier = try CheckpointClassifier(
      checkpoint: checkpoint, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let labels = classifier.labels
    var predictions: [Prediction] = []
    var failed = false
    for imagePath in images {
      do {
        let input = try CheckpointClassifier.input(
          contentsOf: imagePath, framing: classifier.framing)
        let probabilities = try classifier.probabilities(input)
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        predictions.append(
          Prediction(
            image: imagePath,
            top: ranked.prefix(top).map {
              Scored(label: labels[$0], probability: Double(probabilities[$0]))
            }))
      } catch let error as MediaError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        failed = true
      }
    }
    if json {
      try Terminal.printJSON(predictions)
    } else {
      for prediction in predictions {
        print(prediction.image)
        for scored in prediction.top {
          print(String(format: "  %6.2f%%  ", scored.probability * 100) + scored.label)
        }
      }
    }
    if failed { throw ExitCode(1) }
  }
}
