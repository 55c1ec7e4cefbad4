import DropnetArchitecture
import DropnetEngine
import Foundation

/// MobileNet v1 forward in Double, straight from the TF-layout weights (HWIO, BN unfolded, NHWC),
/// sharing no code with the engine: the whole-network oracle.
struct ReferenceMobileNet {
  /// Post-ReLU6 output of every layer, NHWC, by TF-slim name.
  var layers: [String: [Double]] = [:]
  var features: [Double] = []
  var logits: [Double] = []
  var probabilities: [Double] = []

  init(weights: [String: HostTensor], images: [Float], batchSize: Int, imageSize: Int) {
    var activation = images.map(Double.init)
    var size = imageSize
    var channels = 3
    let blockChannels = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    let stridedBlocks: Set<Int> = [2, 4, 6, 12]
    var convolutions: [(name: String, depthwise: Bool, outputs: Int, stride: Int)] = [
      ("MobilenetV1/Conv2d_0", false, 32, 2)
    ]
    for (offset, outputs) in blockChannels.enumerated() {
      let block = offset + 1
      convolutions.append(
        ("MobilenetV1/Conv2d_\(block)_depthwise", true, 0, stridedBlocks.contains(block) ? 2 : 1))
      convolutions.append(("MobilenetV1/Conv2d_\(block)_pointwise", false, outputs, 1))
    }
    for convolution in convolutions {
      let weightsName =
        convolution.name + (convolution.depthwise ? "/depthwise_weights" : "/weights")
      let kernel = weights[weightsName]!
      let outputs = convolution.depthwise ? channels : convolution.outputs
      let (result, outputSize) = ReferenceMobileNet.convolveNHWC(
        activation, batchSize: batchSize, size: size, channels: channels,
        kernel: kernel.values.map(Double.init), kernelSize: kernel.shape[0],
        outputs: outputs, stride: convolution.stride, depthwise: convolution.depthwise)
      let prefix = convolution.name + "/BatchNorm/"
      let gamma = weights[prefix + "gamma"]?.values ?? [Float](repeating: 1, count: outputs)
      let beta = weights[prefix + "beta"]!.values
      let mean = weights[prefix + "moving_mean"]!.values
      let variance = weights[prefix + "moving_variance"]!.values
      activation = result.indices.map { index in
        let c = index % outputs
        let normalized =
          Double(gamma[c]) * (result[index] - Double(mean[c]))
          / (Double(variance[c]) + 0.001).squareRoot() + Double(beta[c])
        return min(max(normalized, 0), 6)
      }
      layers[convolution.name] = activation
      size = outputSize
      channels = outputs
    }
    // Global average pool: NHWC [N, S, S, C] -> [N, C].
    features = [Double](repeating: 0, count: batchSize * channels)
    for n in 0..<batchSize {
      for position in 0..<size * size {
        for c in 0..<channels {
          features[n * channels + c] +=
            activation[(n * size * size + position) * channels + c] / Double(size * size)
        }
      }
    }
    let logitsWeights = weights["MobilenetV1/Logits/Conv2d_1c_1x1/weights"]!
    let biases = weights["MobilenetV1/Logits/Conv2d_1c_1x1/biases"]!.values
    let classCount = biases.count
    for n in 0..<batchSize {
      for k in 0..<classCount {
        var sum = Double(biases[k])
        for c in 0..<channels {
          sum += features[n * channels + c] * Double(logitsWeights.values[c * classCount + k])
        }
        logits.append(sum)
      }
    }
    for n in 0..<batchSize {
      let row = logits[n * classCount..<(n + 1) * classCount]
      let largest = row.max()!
      let exponentials = row.map { exp($0 - largest) }
      let total = exponentials.reduce(0, +)
      probabilities += exponentials.map { $0 / total }
    }
  }

  /// TF 'SAME' convolution over NHWC with HWIO weights (or [K, K, C, 1] when depthwise).
  static func convolveNHWC(
    _ input: [Double], batchSize: Int, size: Int, channels: Int, kernel: [Double],
    kernelSize: Int, outputs: Int, stride: Int, depthwise: Bool
  ) -> (output: [Double], size: Int) {
    let outputSize = (size + stride - 1) / stride
    let padTotal = max((outputSize - 1) * stride + kernelSize - size, 0)
    let padBefore = padTotal / 2
    var output = [Double](repeating: 0, count: batchSize * outputSize * outputSize * outputs)
    input.withUnsafeBufferPointer { input in
      kernel.withUnsafeBufferPointer { kernel in
        output.withUnsafeMutableBufferPointer { output in
          for n in 0..<batchSize {
            for y in 0..<outputSize {
              for x in 0..<outputSize {
                let outputBase = ((n * outputSize + y) * outputSize + x) * outputs
                for ky in 0..<kernelSize {
                  let sy = y * stride + ky - padBefore
                  guard sy >= 0, sy < size else { continue }
                  for kx in 0..<kernelSize {
                    let sx = x * stride + kx - padBefore
                    guard sx >= 0, sx < size else { continue }
                    let inputBase = ((n * size + sy) * size + sx) * channels
                    let kernelBase = (ky * kernelSize + kx) * channels
                    if depthwise {
                      for c in 0..<channels {
                        output[outputBase + c] += input[inputBase + c] * kernel[kernelBase + c]
                      }
                    } else {
                      for i in 0..<channels {
                        let value = input[inputBase + i]
                        let row = (kernelBase + i) * outputs
                        for o in 0..<outputs { output[outputBase + o] += value * kernel[row + o] }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return (output, outputSize)
  }
}
