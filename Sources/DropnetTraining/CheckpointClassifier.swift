import DropnetArchitecture
import DropnetEngine
import DropnetMedia
import DropnetModel
import Foundation

/// A checkpoint ready to classify, as `dropnet predict` runs it: the ImageNet network as
/// imported (its own logits and softmax), or the base network plus the head `dropnet train`
/// added (`Checkpoint.hasTrainedHead`), run on the pooled features.
public final class CheckpointClassifier {
  /// Class labels in output order.
  public let labels: [String]
  /// The trained head, nil for an ImageNet-style checkpoint.
  public let head: ClassifierHeadModel?
  /// How images are framed for this model (what it was trained with).
  public let framing: InputFraming
  private let network: MobileNetV1

  /// Builds the network for batches of up to `batchSize` images on `threads` threads.
  public init(checkpoint: Checkpoint, batchSize: Int = 1, threads: Int) throws {
    framing = InputFraming(checkpoint: checkpoint)
    if checkpoint.hasTrainedHead {
      _ = try checkpoint.trainedHeadWidths()
      head = try ClassifierHeadModel(tensors: checkpoint.tensors)
      network = try MobileNetV1(
        weights: checkpoint.baseTensors, batchSize: batchSize, threads: threads)
      labels = checkpoint.metadata.classLabels
    } else {
      head = nil
      labels =
        checkpoint.metadata.classLabels.isEmpty
        ? ImageNetLabels.withBackground : checkpoint.metadata.classLabels
      network = try MobileNetV1(
        weights: checkpoint.tensors, batchSize: batchSize, threads: threads,
        classCount: labels.count)
    }
  }

  /// Class probabilities [N, labels.count] (row-major) of preprocessed images
  /// [N, 224, 224, 3] (`ImagePreprocessor`'s [-1, 1] RGB).
  public func probabilities(_ input: HostTensor) throws -> [Float] {
    let output = try network.forward(input)
    guard let head else { return output.probabilities.values }
    return head.probabilities(features: output.features.values).map(Float.init)
  }

  /// The 224x224 BGR image at `path` as the network sees it: decoded by OpenCV (EXIF
  /// orientation applied), the part `framing` names (the centred square for Vision's
  /// `.centerCrop`), resized. Training's frames go through the same function (`FeatureCache`,
  /// `BatchLoader`).
  public static func networkImage(contentsOf path: String, framing: InputFraming) throws -> Image {
    let image = try Image(contentsOf: path)
    let source = framing.sourceRectangle(width: image.width, height: image.height)
    let side = ImagePreprocessor.inputSize
    guard
      source.x != 0 || source.y != 0 || source.width != image.width
        || source.height != image.height
    else { return try image.resized(width: side, height: side) }
    let cropped = try ImagePreprocessor.crop(
      image.bytes, width: image.width, height: image.height, to: source)
    return try Image(bytes: cropped, width: source.width, height: source.height, channelCount: 3)
      .resized(width: side, height: side)
  }

  /// One image file as the network's input [1, 224, 224, 3] (see `networkImage`).
  public static func input(contentsOf path: String, framing: InputFraming) throws -> HostTensor {
    let side = ImagePreprocessor.inputSize
    return try ImagePreprocessor.tensor(
      fromBGR: networkImage(contentsOf: path, framing: framing).bytes, width: side, height: side)
  }
}
