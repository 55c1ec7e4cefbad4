/// Stochastic gradient descent with momentum, as Keras does it: for every element,
///
///     g = gradient + weightDecay * parameter
///     velocity = momentum * velocity - learningRate * g
///     parameter += velocity
///
/// The one update rule of the head (Double) and the base (Float, in the engine's buffers).
public enum MomentumSGD {
  /// Updates `parameters` and `velocity` in place from `gradients` (all the same count).
  @inlinable
  public static func step<Scalar: BinaryFloatingPoint>(
    parameters: UnsafeMutableBufferPointer<Scalar>, gradients: UnsafeBufferPointer<Scalar>,
    velocity: UnsafeMutableBufferPointer<Scalar>, learningRate: Scalar, momentum: Scalar,
    weightDecay: Scalar = 0
  ) {
    precondition(
      parameters.count == gradients.count && parameters.count == velocity.count,
      "parameters, gradients and velocity must have one count")
    for index in 0..<parameters.count {
      let gradient = gradients[index] + weightDecay * parameters[index]
      velocity[index] = momentum * velocity[index] - learningRate * gradient
      parameters[index] += velocity[index]
    }
  }

  /// The same for arrays.
  @inlinable
  public static func step<Scalar: BinaryFloatingPoint>(
    parameters: inout [Scalar], gradients: [Scalar], velocity: inout [Scalar],
    learningRate: Scalar, momentum: Scalar, weightDecay: Scalar = 0
  ) {
    parameters.withUnsafeMutableBufferPointer { values in
      gradients.withUnsafeBufferPointer { gradients in
        velocity.withUnsafeMutableBufferPointer { velocity in
          step(
            parameters: values, gradients: gradients, velocity: velocity,
            learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        }
      }
    }
  }
}
