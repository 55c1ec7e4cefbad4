import Foundation

/// Naive Double-precision reference implementations (direct loops), independent of oneDNN, that
/// the engine's layers are checked against. Layouts are plain row-major as named per function.
enum ReferenceMath {
  /// Central differences (loss(x + h e_i) - loss(x - h e_i)) / 2h for every i: the numerical
  /// gradient the backward passes are checked against.
  static func centralDifferences(
    at point: [Double], step: Double, _ loss: ([Double]) -> Double
  ) -> [Double] {
    var shifted = point
    return point.indices.map { index in
      shifted[index] = point[index] + step
      let above = loss(shifted)
      shifted[index] = point[index] - step
      let below = loss(shifted)
      shifted[index] = point[index]
      return (above - below) / (2 * step)
    }
  }

  /// Convolution over NCHW with weights [O, C/G, K, K] (the row-major view of GOIHW) and explicit
  /// padding; output NCHW.
  static func convolutionNCHW(
    input: [Double], batchSize: Int, channels: Int, height: Int, width: Int,
    weights: [Double], bias: [Double], outputChannels: Int, kernelSize: Int, stride: Int,
    groups: Int, padTop: Int, padLeft: Int, outputHeight: Int, outputWidth: Int
  ) -> [Double] {
    let inputPerGroup = channels / groups
    let outputPerGroup = outputChannels / groups
    var output = [Double](
      repeating: 0, count: batchSize * outputChannels * outputHeight * outputWidth)
    for n in 0..<batchSize {
      for o in 0..<outputChannels {
        let group = o / outputPerGroup
        for y in 0..<outputHeight {
          for x in 0..<outputWidth {
            var sum = bias[o]
            for i in 0..<inputPerGroup {
              let c = group * inputPerGroup + i
              for ky in 0..<kernelSize {
                let sy = y * stride + ky - padTop
                guard sy >= 0, sy < height else { continue }
                for kx in 0..<kernelSize {
                  let sx = x * stride + kx - padLeft
                  guard sx >= 0, sx < width else { continue }
                  sum +=
                    input[((n * channels + c) * height + sy) * width + sx]
                    * weights[((o * inputPerGroup + i) * kernelSize + ky) * kernelSize + kx]
                }
              }
            }
            output[((n * outputChannels + o) * outputHeight + y) * outputWidth + x] = sum
          }
        }
      }
    }
    return output
  }

  /// y = gamma (x - mean) / sqrt(variance + epsilon) + beta per channel of NCHW data.
  static func batchNormNCHW(
    _ data: [Double], channels: Int, spatial: Int, gamma: [Double], beta: [Double],
    mean: [Double], variance: [Double], epsilon: Double
  ) -> [Double] {
    data.indices.map { index in
      let c = (index / spatial) % channels
      return gamma[c] * (data[index] - mean[c]) / (variance[c] + epsilon).squareRoot() + beta[c]
    }
  }

  static func relu6(_ data: [Double]) -> [Double] { data.map { min(max($0, 0), 6) } }

  /// Per-channel mean and biased variance of NCHW data (`spatial` = H * W), two passes: a
  /// batch norm's training statistics.
  static func batchStatisticsNCHW(_ data: [Double], channels: Int, spatial: Int) -> (
    mean: [Double], variance: [Double]
  ) {
    var mean = [Double](repeating: 0, count: channels)
    var variance = [Double](repeating: 0, count: channels)
    let count = Double(data.count / channels)
    for index in data.indices { mean[(index / spatial) % channels] += data[index] / count }
    for index in data.indices {
      let c = (index / spatial) % channels
      variance[c] += (data[index] - mean[c]) * (data[index] - mean[c]) / count
    }
    return (mean, variance)
  }

  /// Average over k x k windows with a stride, no padding, NCHW.
  static func averagePoolNCHW(
    _ data: [Double], batchSize: Int, channels: Int, height: Int, width: Int, kernelSize: Int,
    stride: Int
  ) -> [Double] {
    let outputHeight = (height - kernelSize) / stride + 1
    let outputWidth = (width - kernelSize) / stride + 1
    var output: [Double] = []
    for n in 0..<batchSize {
      for c in 0..<channels {
        for y in 0..<outputHeight {
          for x in 0..<outputWidth {
            var sum = 0.0
            for ky in 0..<kernelSize {
              for kx in 0..<kernelSize {
                sum +=
                  data[((n * channels + c) * height + y * stride + ky) * width + x * stride + kx]
              }
            }
            output.append(sum / Double(kernelSize * kernelSize))
          }
        }
      }
    }
    return output
  }

  /// out[n, o] = sum_i input[n, i] * weights[o, i] + bias[o].
  static func innerProduct(
    _ input: [Double], batchSize: Int, inputCount: Int, weights: [Double], bias: [Double],
    outputCount: Int
  ) -> [Double] {
    var output: [Double] = []
    for n in 0..<batchSize {
      for o in 0..<outputCount {
        var sum = bias[o]
        for i in 0..<inputCount { sum += input[n * inputCount + i] * weights[o * inputCount + i] }
        output.append(sum)
      }
    }
    return output
  }

  /// Softmax of each row of [rows, columns].
  static func softmaxRows(_ data: [Double], columns: Int) -> [Double] {
    var output: [Double] = []
    for row in stride(from: 0, to: data.count, by: columns) {
      let slice = data[row..<row + columns]
      let largest = slice.max()!
      let exponentials = slice.map { Foundation.exp($0 - largest) }
      let total = exponentials.reduce(0, +)
      output += exponentials.map { $0 / total }
    }
    return output
  }
}
