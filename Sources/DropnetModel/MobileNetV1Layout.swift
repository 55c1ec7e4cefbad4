/// The tensors an ImageNet MobileNet v1 1.0/224 checkpoint holds, under their TF-slim names and
/// in TensorFlow's layouts (convolutions HWIO, depthwise [3, 3, channels, 1]).
///
/// This is the contract between import, checkpoints and the engine: the importer checks a
/// graph against it and every checkpoint dropnet writes for this architecture has exactly
/// these tensors.
public enum MobileNetV1Layout {
  /// One named tensor and the shape it must have.
  public struct TensorSpec: Sendable, Equatable {
    /// TF-slim name, e.g. "MobilenetV1/Conv2d_1_depthwise/depthwise_weights".
    public var name: String
    /// Expected shape in TensorFlow's layout.
    public var shape: [Int]
  }

  /// Architecture identifier stored in checkpoint metadata.
  public static let architecture = "mobilenet_v1_1.0_224"
  /// Input side in pixels (square, NHWC, RGB).
  public static let inputSize = 224
  /// ImageNet classes plus class 0, "background", as in the TF-slim checkpoints.
  public static let imageNetClassCount = 1001
  /// Width of the pooled feature vector fed to the classifier.
  public static let featureCount = 1024
  /// The variance epsilon TF-slim's batch norm used when the weights were trained.
  public static let batchNormEpsilon: Float = 0.001

  /// Output channels of Conv2d_0 and of each pointwise layer 1...13 (width multiplier 1.0).
  static let outputChannels = [
    32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024,
  ]

  /// The name prefix of a layer's variables, e.g. "MobilenetV1/Conv2d_3_pointwise".
  public static func layerName(_ suffix: String) -> String { "MobilenetV1/\(suffix)" }

  /// Every tensor of the network including the 1001-way ImageNet classifier, in network order.
  public static let tensors: [TensorSpec] = {
    var specs: [TensorSpec] = []
    func batchNorm(_ layer: String, _ channelCount: Int) {
      for variable in ["gamma", "beta", "moving_mean", "moving_variance"] {
        specs.append(TensorSpec(name: "\(layer)/BatchNorm/\(variable)", shape: [channelCount]))
      }
    }
    let stem = layerName("Conv2d_0")
    specs.append(TensorSpec(name: "\(stem)/weights", shape: [3, 3, 3, outputChannels[0]]))
    batchNorm(stem, outputChannels[0])
    for block in 1...13 {
      let inputChannels = outputChannels[block - 1]
      let depthwise = layerName("Conv2d_\(block)_depthwise")
      specs.append(
        TensorSpec(name: "\(depthwise)/depthwise_weights", shape: [3, 3, inputChannels, 1]))
      batchNorm(depthwise, inputChannels)
      let pointwise = layerName("Conv2d_\(block)_pointwise")
      specs.append(
        TensorSpec(
          name: "\(pointwise)/weights", shape: [1, 1, inputChannels, outputChannels[block]]))
      batchNorm(pointwise, outputChannels[block])
    }
    let logits = layerName("Logits/Conv2d_1c_1x1")
    specs.append(
      TensorSpec(name: "\(logits)/weights", shape: [1, 1, featureCount, imageNetClassCount]))
    specs.append(TensorSpec(name: "\(logits)/biases", shape: [imageNetClassCount]))
    return specs
  }()
}
