import DropnetArchitecture

extension MobileNetV1Architecture.Layer {
  /// oneDNN's plain logical weight dims: [O, I, K, K], or [G = C, 1, 1, K, K] for depthwise
  /// (the same element order as `outputMajorDimensions`, grouped).
  var engineWeightsDimensions: [Int] {
    kind == .depthwise
      ? [inputChannels, 1, 1, kernelSize, kernelSize]
      : outputMajorDimensions
  }
}
