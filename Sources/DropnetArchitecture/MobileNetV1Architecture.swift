/// TF-slim MobileNet v1 1.0 (width multiplier 1.0): the one table of its layers, tensor names
/// and shapes, which the importer, checkpoints, the engine and every exported format read.
///
/// Network (input NHWC RGB in [-1, 1], 224x224):
///
///     Conv2d_0        3x3 stride 2, 3 -> 32, batch norm, ReLU6
///     Conv2d_1...13   3x3 depthwise (stride 2 in blocks 2, 4, 6, 12), batch norm, ReLU6,
///                     then 1x1 pointwise, batch norm, ReLU6 (64, 128, 128, ..., 1024)
///     AvgPool_1a      global average over the last 7x7 map -> 1024 features
///     Conv2d_1c_1x1   1x1, 1024 -> 1001 ImageNet classes with bias (logits), softmax
///
/// Tensors are held under their TF-slim names in TensorFlow's layouts (convolutions HWIO,
/// depthwise [3, 3, channels, 1]). Padding is TF 'SAME' (asymmetric for stride 2 over even
/// sizes).
public enum MobileNetV1Architecture {
  /// Architecture identifier stored in checkpoint metadata.
  public static let identifier = "mobilenet_v1_1.0_224"
  /// Input width and height the weights were trained at (square, NHWC, RGB).
  public static let inputSize = 224
  /// Width of the pooled feature vector fed to the classifier.
  public static let featureCount = 1024
  /// ImageNet classes plus class 0, "background", as in the TF-slim checkpoints.
  public static let imageNetClassCount = 1001
  /// The variance epsilon of every batch norm of the base (TF-slim's).
  public static let batchNormEpsilon = 0.001
  /// Depthwise/pointwise blocks after Conv2d_0.
  public static let blockCount = 13
  /// Scope of the ImageNet logits convolution.
  public static let logitsScope = "MobilenetV1/Logits/Conv2d_1c_1x1"
  /// [1, 1, 1024, classes]
  public static let logitsWeightsName = logitsScope + "/weights"
  /// [classes]
  public static let logitsBiasesName = logitsScope + "/biases"

  /// The 27 convolutions in order: Conv2d_0, then depthwise/pointwise pairs Conv2d_1...13.
  public static let layers: [Layer] = {
    // Pointwise output channels of blocks 1...13 and the blocks whose depthwise convolution
    // has stride 2, from the TF-slim MobileNet v1 definition.
    let pointwiseChannels = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    let stridedBlocks: Set<Int> = [2, 4, 6, 12]
    var layers = [
      Layer(
        name: "MobilenetV1/Conv2d_0", kind: .standard, inputChannels: 3, outputChannels: 32,
        stride: 2)
    ]
    var channels = 32
    for (offset, outputChannels) in pointwiseChannels.enumerated() {
      let block = offset + 1
      layers.append(
        Layer(
          name: "MobilenetV1/Conv2d_\(block)_depthwise", kind: .depthwise,
          inputChannels: channels, outputChannels: channels,
          stride: stridedBlocks.contains(block) ? 2 : 1))
      layers.append(
        Layer(
          name: "MobilenetV1/Conv2d_\(block)_pointwise", kind: .pointwise,
          inputChannels: channels, outputChannels: outputChannels, stride: 1))
      channels = outputChannels
    }
    return layers
  }()

  /// Every tensor of the network with its TF-layout shape, in network order, ending with the
  /// logits layer for `classCount` classes.
  public static func tensorShapes(classCount: Int = imageNetClassCount) -> [(
    name: String, shape: [Int]
  )] {
    var shapes: [(name: String, shape: [Int])] = []
    for layer in layers {
      shapes.append((layer.weightsName, layer.weightsShape))
      for name in layer.batchNormNames { shapes.append((name, [layer.outputChannels])) }
    }
    shapes.append((logitsWeightsName, [1, 1, featureCount, classCount]))
    shapes.append((logitsBiasesName, [classCount]))
    return shapes
  }

  /// Tensors a frozen graph may leave out: batch norms without a scale (gamma 1).
  public static let optionalTensorNames = Set(layers.map(\.gammaName))

  /// What keeps `tensors` from being this network with `classCount` classes (missing
  /// tensors, wrong shapes, value counts that do not match, with `unexpected` names not of
  /// the network), in network order; empty when it is.
  /// - Parameters:
  ///   - includingLogits: whether the logits layer must be there.
  ///   - allowingPrefix: names starting with it are not reported as unexpected (a checkpoint's
  ///     trained head).
  public static func problems(
    in tensors: [String: HostTensor], classCount: Int = imageNetClassCount,
    includingLogits: Bool = true, allowingPrefix: String? = nil
  ) -> [ShapeProblem] {
    var problems: [ShapeProblem] = []
    var known = Set<String>()
    for (name, shape) in tensorShapes(classCount: classCount) {
      let isLogits = name.hasPrefix(logitsScope)
      if isLogits && !includingLogits { continue }
      known.insert(name)
      guard let tensor = tensors[name] else {
        if !optionalTensorNames.contains(name) {
          problems.append(ShapeProblem(kind: .missing, tensor: name, "\(name) is missing"))
        }
        continue
      }
      if tensor.shape != shape || tensor.values.count != shape.reduce(1, *) {
        problems.append(
          ShapeProblem(
            kind: .wrongShape, tensor: name,
            "\(name) has shape \(tensor.shape) (\(tensor.values.count) values), expected \(shape)"
          ))
      }
    }
    for name in tensors.keys.sorted() where !known.contains(name) {
      if let allowingPrefix, name.hasPrefix(allowingPrefix) { continue }
      if !includingLogits && name.hasPrefix(logitsScope) { continue }
      problems.append(
        ShapeProblem(kind: .unexpected, tensor: name, "\(name) is not a MobileNet v1 tensor"))
    }
    return problems
  }

  /// One way a set of tensors differs from the table.
  public struct ShapeProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
      case missing, wrongShape, unexpected
    }
    public var kind: Kind
    /// The tensor's name.
    public var tensor: String
    /// The problem in words.
    public var description: String

    init(kind: Kind, tensor: String, _ description: String) {
      self.kind = kind
      self.tensor = tensor
      self.description = description
    }
  }

  /// TF 'SAME' padding along one axis: (before, after); the odd pixel goes after.
  public static func samePadding(inputSize: Int, kernelSize: Int, stride: Int) -> (
    before: Int, after: Int
  ) {
    let outputSize = (inputSize + stride - 1) / stride
    let total = max((outputSize - 1) * stride + kernelSize - inputSize, 0)
    return (total / 2, total - total / 2)
  }

  /// The side of the last feature map (7 at 224).
  public static func finalMapSize(inputSize: Int) -> Int {
    layers.reduce(inputSize) { size, layer in (size + layer.stride - 1) / layer.stride }
  }
}
