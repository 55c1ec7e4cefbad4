import DropnetArchitecture
import DropnetEngine
import DropnetModel
import Foundation

/// The seed's classifier head on MobileNet v1's pooled features, with its own training step:
///
///     features [N, 1024] -> Dense(1024 -> 256) -> ReLU -> BatchNorm -> Dropout(0.5)
///                        -> Dense(256 -> classes) -> softmax
///
/// Plain Swift loops in Double: the head is tiny (1024x256 + 256xC multiply-adds per image),
/// so precision costs nothing noticeable, and the finite-difference gradient check runs the
/// very code that trains. Parameters follow Keras: Dense kernels are [in, out], Glorot
/// uniform with zero biases; BatchNormalization starts at gamma 1, beta 0, moving mean 0,
/// moving variance 1.
///
/// Loss: softmax cross-entropy weighted per class, averaged over the batch as Keras does with
/// `class_weight` (sum of w[y] * -log p[y], divided by N, not by the sum of weights).
/// Optimiser: SGD with momentum as Keras (`v = momentum * v - lr * g; p += v`), optional
/// weight decay added to the kernels' gradients (`g += weightDecay * kernel`).
public struct ClassifierHeadModel: Sendable, Equatable {
  /// Width of the hidden Dense layer (the seed's 256).
  public static let defaultHiddenCount = 256
  /// Keras' BatchNormalization epsilon default (what export folds with).
  public static let batchNormEpsilon = ClassifierHead.batchNormEpsilon
  /// Keras' BatchNormalization momentum default: running = 0.99 * running + 0.01 * batch.
  public static let batchNormMomentum = 0.99

  /// Trainable parameters (or their gradients, or their momenta: same shapes).
  public struct Parameters: Sendable, Equatable {
    /// [featureCount, hiddenCount], row-major.
    public var fc1Weights: [Double]
    /// [hiddenCount]
    public var fc1Biases: [Double]
    /// [hiddenCount]
    public var gamma: [Double]
    /// [hiddenCount]
    public var beta: [Double]
    /// [hiddenCount, classCount], row-major.
    public var fc2Weights: [Double]
    /// [classCount]
    public var fc2Biases: [Double]

    /// All zeros in the shapes of a `featureCount` -> `hiddenCount` -> `classCount` head.
    public init(featureCount: Int, hiddenCount: Int, classCount: Int) {
      fc1Weights = Array(repeating: 0, count: featureCount * hiddenCount)
      fc1Biases = Array(repeating: 0, count: hiddenCount)
      gamma = Array(repeating: 0, count: hiddenCount)
      beta = Array(repeating: 0, count: hiddenCount)
      fc2Weights = Array(repeating: 0, count: hiddenCount * classCount)
      fc2Biases = Array(repeating: 0, count: classCount)
    }

    /// The six arrays in a fixed order (for updates and gradient checks).
    public var arrays: [[Double]] {
      get { [fc1Weights, fc1Biases, gamma, beta, fc2Weights, fc2Biases] }
      set {
        fc1Weights = newValue[0]
        fc1Biases = newValue[1]
        gamma = newValue[2]
        beta = newValue[3]
        fc2Weights = newValue[4]
        fc2Biases = newValue[5]
      }
    }
  }

  /// Inputs per example (MobileNet v1's 1024).
  public let featureCount: Int
  /// Width of the hidden layer.
  public let hiddenCount: Int
  /// Output classes.
  public let classCount: Int
  /// Share of hidden units dropped in training (the seed's 0.5).
  public var dropoutRate: Double
  /// The trainable parameters.
  public var parameters: Parameters
  /// BatchNorm running mean, [hiddenCount], used at inference.
  public var movingMean: [Double]
  /// BatchNorm running (biased) variance, [hiddenCount], used at inference.
  public var movingVariance: [Double]
  /// SGD momentum buffers, same shapes as `parameters`.
  private var velocity: Parameters

  /// A freshly initialised head: Glorot-uniform kernels drawn from `seed`, zero biases.
  public init(
    featureCount: Int = MobileNetV1Architecture.featureCount, hiddenCount: Int = defaultHiddenCount,
    classCount: Int, dropoutRate: Double = 0.5, seed: UInt64 = 0
  ) throws {
    guard featureCount > 0, hiddenCount > 0, classCount >= 2 else {
      throw TrainingError(
        .invalidSetting,
        "head sizes \(featureCount) -> \(hiddenCount) -> \(classCount): need positive sizes and at least 2 classes"
      )
    }
    guard dropoutRate >= 0, dropoutRate < 1 else {
      throw TrainingError(.invalidSetting, "dropout rate \(dropoutRate) must be in [0, 1)")
    }
    self.featureCount = featureCount
    self.hiddenCount = hiddenCount
    self.classCount = classCount
    self.dropoutRate = dropoutRate
    var random = SeededRandom(seed: seed)
    var parameters = Parameters(
      featureCount: featureCount, hiddenCount: hiddenCount, classCount: classCount)
    parameters.fc1Weights = Self.glorotUniform(
      fanIn: featureCount, fanOut: hiddenCount, using: &random)
    parameters.gamma = Array(repeating: 1, count: hiddenCount)
    parameters.fc2Weights = Self.glorotUniform(
      fanIn: hiddenCount, fanOut: classCount, using: &random)
    self.parameters = parameters
    movingMean = Array(repeating: 0, count: hiddenCount)
    movingVariance = Array(repeating: 1, count: hiddenCount)
    velocity = Parameters(
      featureCount: featureCount, hiddenCount: hiddenCount, classCount: classCount)
  }

  /// Keras' `glorot_uniform`: uniform in +-sqrt(6 / (fanIn + fanOut)), row-major [fanIn, fanOut].
  static func glorotUniform(fanIn: Int, fanOut: Int, using random: inout SeededRandom) -> [Double] {
    let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
    return (0..<(fanIn * fanOut)).map { _ in random.uniform(-limit...limit) }
  }

  // MARK: - Inference

  /// Class probabilities [N, classCount] for `features` [N, featureCount] (row-major), with
  /// the BatchNorm running statistics and no dropout.
  public func probabilities(features: [Float]) -> [Double] {
    let count = features.count / featureCount
    precondition(count * featureCount == features.count, "features must be [N, \(featureCount)]")
    let input = features.map(Double.init)
    var hidden = Self.dense(
      input, count: count, inputCount: featureCount, outputCount: hiddenCount,
      weights: parameters.fc1Weights, biases: parameters.fc1Biases)
    for index in hidden.indices { hidden[index] = max(0, hidden[index]) }
    let epsilon = Self.batchNormEpsilon
    for row in 0..<count {
      for unit in 0..<hiddenCount {
        let index = row * hiddenCount + unit
        let normalised =
          (hidden[index] - movingMean[unit]) / (movingVariance[unit] + epsilon).squareRoot()
        hidden[index] = parameters.gamma[unit] * normalised + parameters.beta[unit]
      }
    }
    let logits = Self.dense(
      hidden, count: count, inputCount: hiddenCount, outputCount: classCount,
      weights: parameters.fc2Weights, biases: parameters.fc2Biases)
    return Self.softmax(logits, count: count, classCount: classCount)
  }

  /// The most probable class of each row of `features`.
  public func predictedClasses(features: [Float]) -> [Int] {
    let probabilities = probabilities(features: features)
    return (0..<(probabilities.count / classCount)).map {
      Self.argMax(probabilities, row: $0, width: classCount)
    }
  }

  /// The column of row `row`'s largest value in `values` (row-major, `width` per row); the
  /// first on ties.
  static func argMax(_ values: [Double], row: Int, width: Int) -> Int {
    let start = row * width
    return (0..<width).max { values[start + $0] < values[start + $1] }!
  }

  /// Weighted cross-entropy and accuracy at inference (running statistics, no dropout).
  public func evaluate(features: [Float], classIndices: [Int], classWeights: [Double]) -> (
    loss: Double, accuracy: Double
  ) {
    let probabilities = probabilities(features: features)
    var loss = 0.0
    var correct = 0
    for (row, label) in classIndices.enumerated() {
      let start = row * classCount
      loss -= classWeights[label] * log(max(probabilities[start + label], Self.smallestProbability))
      if Self.argMax(probabilities, row: row, width: classCount) == label { correct += 1 }
    }
    let count = Double(max(1, classIndices.count))
    return (loss / count, Double(correct) / count)
  }

  /// log(0) guard: a probability below float32's smallest normal counts as that value.
  static let smallestProbability = 1e-38

  // MARK: - Training

  /// What one training forward pass keeps for its backward pass.
  public struct TrainingPass: Sendable {
    /// Weighted batch loss (before weight decay).
    public var loss: Double
    /// Share of the batch whose arg-max is its label (with dropout and batch statistics).
    public var accuracy: Double
    /// Gradients of `loss` with respect to every parameter.
    public var gradients: Parameters
    /// This batch's BatchNorm mean and biased variance, [hiddenCount] each.
    public var batchMean: [Double]
    public var batchVariance: [Double]
    /// Gradient of `loss` with respect to the features [N, featureCount] (what a trained
    /// base network's backward pass starts from); empty unless asked for.
    public var featureGradients: [Double] = []
  }

  /// Forward and backward in training mode (batch statistics, dropout mask drawn from
  /// `dropoutSeed`); changes nothing. `features` is [N, featureCount] row-major.
  /// `computeFeatureGradients` also returns d loss / d features (for fine-tuning the base).
  public func trainingPass(
    features: [Double], classIndices: [Int], classWeights: [Double], dropoutSeed: UInt64,
    computeFeatureGradients: Bool = false
  ) -> TrainingPass {
    let count = classIndices.count
    precondition(count > 0 && features.count == count * featureCount, "features must be [N, F]")
    precondition(classWeights.count == classCount, "one weight per class")
    let (hiddenCount, classCount) = (self.hiddenCount, self.classCount)
    let p = parameters

    // fc1 forward: z1 [N, H] = x [N, F] * W1 [F, H] + b1
    let z1 = Self.dense(
      features, count: count, inputCount: featureCount, outputCount: hiddenCount,
      weights: p.fc1Weights, biases: p.fc1Biases)
    // ReLU forward: a1 [N, H]
    let a1 = z1.map { max(0, $0) }
    // BatchNorm forward (batch statistics, biased variance as Keras normalises with):
    // xhat = (a1 - mean) / sqrt(var + eps), y = gamma * xhat + beta, all [N, H]
    var mean = Array(repeating: 0.0, count: hiddenCount)
    var variance = Array(repeating: 0.0, count: hiddenCount)
    for row in 0..<count {
      for unit in 0..<hiddenCount { mean[unit] += a1[row * hiddenCount + unit] }
    }
    for unit in 0..<hiddenCount { mean[unit] /= Double(count) }
    for row in 0..<count {
      for unit in 0..<hiddenCount {
        let centred = a1[row * hiddenCount + unit] - mean[unit]
        variance[unit] += centred * centred
      }
    }
    for unit in 0..<hiddenCount { variance[unit] /= Double(count) }
    let inverseDeviation = variance.map { 1 / ($0 + Self.batchNormEpsilon).squareRoot() }
    var normalised = a1
    var bnOutput = a1
    for row in 0..<count {
      for unit in 0..<hiddenCount {
        let index = row * hiddenCount + unit
        normalised[index] = (a1[index] - mean[unit]) * inverseDeviation[unit]
        bnOutput[index] = p.gamma[unit] * normalised[index] + p.beta[unit]
      }
    }
    // Dropout forward (inverted: kept units scaled by 1 / (1 - rate), so inference is plain).
    var random = SeededRandom(seed: dropoutSeed)
    let keepScale = 1 / (1 - dropoutRate)
    let mask: [Double] = (0..<(count * hiddenCount)).map { _ in
      dropoutRate == 0 || random.uniform(0...1) >= dropoutRate ? keepScale : 0
    }
    var dropped = bnOutput
    for index in dropped.indices { dropped[index] *= mask[index] }
    // fc2 forward: z2 [N, C] = d [N, H] * W2 [H, C] + b2; softmax [N, C]
    let z2 = Self.dense(
      dropped, count: count, inputCount: hiddenCount, outputCount: classCount,
      weights: p.fc2Weights, biases: p.fc2Biases)
    let probabilities = Self.softmax(z2, count: count, classCount: classCount)

    // Softmax cross-entropy forward and backward together:
    // loss = (1/N) sum_n w[y_n] * -log p[n, y_n];  dz2[n, c] = w[y_n] / N * (p[n, c] - 1[c = y_n])
    var loss = 0.0
    var correct = 0
    var dz2 = probabilities
    for (row, label) in classIndices.enumerated() {
      let start = row * classCount
      let weight = classWeights[label]
      loss -= weight * log(max(probabilities[start + label], Self.smallestProbability))
      if Self.argMax(probabilities, row: row, width: classCount) == label { correct += 1 }
      dz2[start + label] -= 1
      for klass in 0..<classCount { dz2[start + klass] *= weight / Double(count) }
    }
    loss /= Double(count)

    var gradients = Parameters(
      featureCount: featureCount, hiddenCount: hiddenCount, classCount: classCount)
    // fc2 backward: dW2 [H, C] = d^T dz2, db2 [C] = sum_n dz2, dd [N, H] = dz2 W2^T
    Self.denseBackwardWeights(
      input: dropped, outputGradient: dz2, count: count, inputCount: hiddenCount,
      outputCount: classCount, weightGradient: &gradients.fc2Weights,
      biasGradient: &gradients.fc2Biases)
    var dDropped = Self.denseBackwardInput(
      outputGradient: dz2, weights: p.fc2Weights, count: count, inputCount: hiddenCount,
      outputCount: classCount)
    // Dropout backward: the same mask and scale.
    for index in dDropped.indices { dDropped[index] *= mask[index] }
    // BatchNorm backward (batch statistics depend on every row):
    // dgamma = sum_n dy * xhat; dbeta = sum_n dy;
    // da1 = (1/N) * invstd * (N * dxhat - sum_n dxhat - xhat * sum_n (dxhat * xhat)), dxhat = dy * gamma
    var sumGradient = Array(repeating: 0.0, count: hiddenCount)
    var sumGradientTimesNormalised = Array(repeating: 0.0, count: hiddenCount)
    for row in 0..<count {
      for unit in 0..<hiddenCount {
        let index = row * hiddenCount + unit
        gradients.gamma[unit] += dDropped[index] * normalised[index]
        gradients.beta[unit] += dDropped[index]
        let dNormalised = dDropped[index] * p.gamma[unit]
        sumGradient[unit] += dNormalised
        sumGradientTimesNormalised[unit] += dNormalised * normalised[index]
      }
    }
    var dz1 = Array(repeating: 0.0, count: count * hiddenCount)
    for row in 0..<count {
      for unit in 0..<hiddenCount {
        let index = row * hiddenCount + unit
        let dNormalised = dDropped[index] * p.gamma[unit]
        let da1 =
          inverseDeviation[unit] / Double(count)
          * (Double(count) * dNormalised - sumGradient[unit] - normalised[index]
            * sumGradientTimesNormalised[unit])
        // ReLU backward: pass where the input was positive.
        dz1[index] = z1[index] > 0 ? da1 : 0
      }
    }
    // fc1 backward: dW1 [F, H] = x^T dz1, db1 [H] = sum_n dz1, and when the base trains,
    // dx [N, F] = dz1 [N, H] * W1^T [H, F].
    Self.denseBackwardWeights(
      input: features, outputGradient: dz1, count: count, inputCount: featureCount,
      outputCount: hiddenCount, weightGradient: &gradients.fc1Weights,
      biasGradient: &gradients.fc1Biases)
    var pass = TrainingPass(
      loss: loss, accuracy: Double(correct) / Double(count), gradients: gradients,
      batchMean: mean, batchVariance: variance)
    if computeFeatureGradients {
      pass.featureGradients = Self.denseBackwardInput(
        outputGradient: dz1, weights: p.fc1Weights, count: count, inputCount: featureCount,
        outputCount: hiddenCount)
    }
    return pass
  }

  /// One SGD step on a batch: training pass, weight decay on the kernels, momentum update,
  /// BatchNorm running statistics update. Returns the pass (loss, accuracy, gradients, and
  /// with `computeFeatureGradients` the features' gradient before the update).
  @discardableResult
  public mutating func train(
    features: [Float], classIndices: [Int], classWeights: [Double], learningRate: Double,
    momentum: Double = 0.9, weightDecay: Double = 0, dropoutSeed: UInt64,
    computeFeatureGradients: Bool = false
  ) -> TrainingPass {
    let pass = trainingPass(
      features: features.map(Double.init), classIndices: classIndices,
      classWeights: classWeights, dropoutSeed: dropoutSeed,
      computeFeatureGradients: computeFeatureGradients)
    var values = parameters.arrays
    var velocities = velocity.arrays
    let gradients = pass.gradients.arrays
    // Weight decay applies to the kernels (fc1 and fc2 weights), not biases or batch norm.
    let decayed: Set<Int> = [0, 4]
    for part in values.indices {
      MomentumSGD.step(
        parameters: &values[part], gradients: gradients[part], velocity: &velocities[part],
        learningRate: learningRate, momentum: momentum,
        weightDecay: decayed.contains(part) ? weightDecay : 0)
    }
    parameters.arrays = values
    velocity.arrays = velocities
    let keep = Self.batchNormMomentum
    for unit in 0..<hiddenCount {
      movingMean[unit] = keep * movingMean[unit] + (1 - keep) * pass.batchMean[unit]
      movingVariance[unit] = keep * movingVariance[unit] + (1 - keep) * pass.batchVariance[unit]
    }
    return pass
  }

  // MARK: - Checkpoint tensors

  /// The head as float32 tensors named by `TensorName`.
  public var tensors: [String: HostTensor] {
    func tensor(_ shape: [Int], _ values: [Double]) -> HostTensor {
      HostTensor(shape: shape, values: values.map(Float.init))
    }
    return [
      Checkpoint.HeadTensorName.fc1Weights: tensor(
        [featureCount, hiddenCount], parameters.fc1Weights),
      Checkpoint.HeadTensorName.fc1Biases: tensor([hiddenCount], parameters.fc1Biases),
      Checkpoint.HeadTensorName.batchNormGamma: tensor([hiddenCount], parameters.gamma),
      Checkpoint.HeadTensorName.batchNormBeta: tensor([hiddenCount], parameters.beta),
      Checkpoint.HeadTensorName.batchNormMovingMean: tensor([hiddenCount], movingMean),
      Checkpoint.HeadTensorName.batchNormMovingVariance: tensor([hiddenCount], movingVariance),
      Checkpoint.HeadTensorName.fc2Weights: tensor(
        [hiddenCount, classCount], parameters.fc2Weights),
      Checkpoint.HeadTensorName.fc2Biases: tensor([classCount], parameters.fc2Biases),
    ]
  }

  /// A head read back from `tensors` (e.g. a checkpoint's); throws `.invalidSetting` naming a
  /// missing or misshapen tensor.
  public init(tensors: [String: HostTensor]) throws {
    func take(_ name: String, rank: Int) throws -> HostTensor {
      guard let tensor = tensors[name], tensor.shape.count == rank else {
        throw TrainingError(
          .invalidSetting,
          "head tensor \(name) is missing or not rank \(rank); use a checkpoint written by `dropnet train`"
        )
      }
      return tensor
    }
    let fc1 = try take(Checkpoint.HeadTensorName.fc1Weights, rank: 2)
    let fc2 = try take(Checkpoint.HeadTensorName.fc2Weights, rank: 2)
    try self.init(
      featureCount: fc1.shape[0], hiddenCount: fc1.shape[1], classCount: fc2.shape[1])
    let vectors = [
      Checkpoint.HeadTensorName.fc1Biases, Checkpoint.HeadTensorName.batchNormGamma,
      Checkpoint.HeadTensorName.batchNormBeta,
      Checkpoint.HeadTensorName.batchNormMovingMean,
      Checkpoint.HeadTensorName.batchNormMovingVariance,
    ]
    var read: [String: [Double]] = [:]
    for name in vectors {
      let tensor = try take(name, rank: 1)
      guard tensor.shape[0] == hiddenCount else {
        throw TrainingError(
          .invalidSetting, "head tensor \(name) has \(tensor.shape), want [\(hiddenCount)]")
      }
      read[name] = tensor.values.map(Double.init)
    }
    let biases2 = try take(Checkpoint.HeadTensorName.fc2Biases, rank: 1)
    guard fc2.shape[0] == hiddenCount, biases2.shape == [classCount] else {
      throw TrainingError(
        .invalidSetting, "head fc2 tensors do not match the hidden width \(hiddenCount)")
    }
    parameters.fc1Weights = fc1.values.map(Double.init)
    parameters.fc1Biases = read[Checkpoint.HeadTensorName.fc1Biases]!
    parameters.gamma = read[Checkpoint.HeadTensorName.batchNormGamma]!
    parameters.beta = read[Checkpoint.HeadTensorName.batchNormBeta]!
    parameters.fc2Weights = fc2.values.map(Double.init)
    parameters.fc2Biases = biases2.values.map(Double.init)
    movingMean = read[Checkpoint.HeadTensorName.batchNormMovingMean]!
    movingVariance = read[Checkpoint.HeadTensorName.batchNormMovingVariance]!
  }

  // MARK: - Kernels

  /// output [N, O] = input [N, I] * weights [I, O] + biases [O], row-major.
  static func dense(
    _ input: [Double], count: Int, inputCount: Int, outputCount: Int, weights: [Double],
    biases: [Double]
  ) -> [Double] {
    var output = Array(repeating: 0.0, count: count * outputCount)
    input.withUnsafeBufferPointer { x in
      weights.withUnsafeBufferPointer { w in
        output.withUnsafeMutableBufferPointer { y in
          for row in 0..<count {
            let out = y.baseAddress! + row * outputCount
            for column in 0..<outputCount { out[column] = biases[column] }
            for inner in 0..<inputCount {
              let value = x[row * inputCount + inner]
              // Pooled ReLU6 features and dropped units are often exactly zero.
              if value == 0 { continue }
              Self.addScaled(
                value, w.baseAddress! + inner * outputCount, to: out, count: outputCount)
            }
          }
        }
      }
    }
    return output
  }

  /// weightGradient [I, O] += input^T [I, N] * outputGradient [N, O]; biasGradient [O] += column sums.
  static func denseBackwardWeights(
    input: [Double], outputGradient: [Double], count: Int, inputCount: Int, outputCount: Int,
    weightGradient: inout [Double], biasGradient: inout [Double]
  ) {
    input.withUnsafeBufferPointer { x in
      outputGradient.withUnsafeBufferPointer { dy in
        weightGradient.withUnsafeMutableBufferPointer { dw in
          for row in 0..<count {
            let gradientRow = dy.baseAddress! + row * outputCount
            for inner in 0..<inputCount {
              let value = x[row * inputCount + inner]
              if value == 0 { continue }
              Self.addScaled(
                value, gradientRow, to: dw.baseAddress! + inner * outputCount, count: outputCount)
            }
          }
        }
      }
    }
    for row in 0..<count {
      for column in 0..<outputCount {
        biasGradient[column] += outputGradient[row * outputCount + column]
      }
    }
  }

  /// target[0..<count] += scale * source[0..<count]: the inner loop of both dense passes.
  /// A `while` over raw pointers, because tests run unoptimised builds, where a range loop
  /// costs an iterator call per element (this halved the 30-epoch head test: 28 s to 13 s).
  @inline(__always)
  static func addScaled(
    _ scale: Double, _ source: UnsafePointer<Double>, to target: UnsafeMutablePointer<Double>,
    count: Int
  ) {
    var index = 0
    while index < count {
      target[index] += scale * source[index]
      index += 1
    }
  }

  /// inputGradient [N, I] = outputGradient [N, O] * weights^T [O, I].
  static func denseBackwardInput(
    outputGradient: [Double], weights: [Double], count: Int, inputCount: Int, outputCount: Int
  ) -> [Double] {
    var inputGradient = Array(repeating: 0.0, count: count * inputCount)
    outputGradient.withUnsafeBufferPointer { dy in
      weights.withUnsafeBufferPointer { w in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          for row in 0..<count {
            let gradientRow = dy.baseAddress! + row * outputCount
            for inner in 0..<inputCount {
              let weightRow = w.baseAddress! + inner * outputCount
              var sum = 0.0
              var column = 0
              // A `while` for the same reason as `addScaled`: tests run unoptimised builds.
              while column < outputCount {
                sum += gradientRow[column] * weightRow[column]
                column += 1
              }
              dx[row * inputCount + inner] = sum
            }
          }
        }
      }
    }
    return inputGradient
  }

  /// Row-wise softmax of `logits` [N, C], shifted by the row maximum so exp cannot overflow.
  static func softmax(_ logits: [Double], count: Int, classCount: Int) -> [Double] {
    var result = logits
    for row in 0..<count {
      let start = row * classCount
      let largest = logits[start..<(start + classCount)].max()!
      var sum = 0.0
      for klass in 0..<classCount {
        result[start + klass] = exp(logits[start + klass] - largest)
        sum += result[start + klass]
      }
      for klass in 0..<classCount { result[start + klass] /= sum }
    }
    return result
  }
}
