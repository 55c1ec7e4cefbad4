import CDNNL

/// An error from the compute engine: what happened, in which layer, and what to do about it.
public struct EngineError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure this is; extensible, compare with the static members.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A oneDNN call returned a failure status (see `status`).
    public static let dnnlFailure = Code(rawValue: "dnnlFailure")
    /// A weight tensor the network needs is not in the dictionary.
    public static let missingTensor = Code(rawValue: "missingTensor")
    /// A weight tensor has a shape other than the expected one.
    public static let wrongShape = Code(rawValue: "wrongShape")
    /// A weight tensor name is not one the network knows.
    public static let unexpectedTensor = Code(rawValue: "unexpectedTensor")
    /// The input tensor does not fit the network (shape, batch size).
    public static let invalidInput = Code(rawValue: "invalidInput")
    /// A configuration value (batch size, threads, layer geometry) is out of range.
    public static let invalidConfiguration = Code(rawValue: "invalidConfiguration")
    /// A capture asked for a layer name the network does not have.
    public static let unknownLayer = Code(rawValue: "unknownLayer")
    /// The OpenMP runtime that oneDNN uses could not be found to set the thread count.
    public static let threadingUnavailable = Code(rawValue: "threadingUnavailable")
  }

  /// What kind of failure.
  public var code: Code
  /// The layer (TF-slim name or primitive role) or tensor involved, if any.
  public var layer: String?
  /// The raw `dnnl_status_t` value when a oneDNN call failed.
  public var status: Int32?
  /// What happened and what to do.
  public var message: String

  /// Creates an error.
  public init(code: Code, layer: String? = nil, status: Int32? = nil, message: String) {
    self.code = code
    self.layer = layer
    self.status = status
    self.message = message
  }

  public var description: String {
    var text = "EngineError.\(code)"
    if let layer { text += " [\(layer)]" }
    if let status { text += " (dnnl status \(status): \(EngineError.statusName(status)))" }
    return text + ": " + message
  }

  /// The name of a `dnnl_status_t` value, for messages.
  static func statusName(_ status: Int32) -> String {
    switch status {
    case 0: "success"
    case 1: "out_of_memory"
    case 2: "invalid_arguments"
    case 3: "unimplemented"
    case 4: "iterator_ends"
    case 5: "runtime_error"
    case 6: "not_required"
    default: "unknown"
    }
  }
}

/// Throws an `EngineError` naming `layer` and `call` when a oneDNN call does not succeed.
@inline(__always)
func checkDNNL(_ status: dnnl_status_t, _ call: @autoclosure () -> String, layer: String?) throws {
  guard status != dnnl_success else { return }
  let raw = Int32(truncatingIfNeeded: status.rawValue)
  let hint =
    status == dnnl_unimplemented
    ? "oneDNN has no implementation for these shapes/formats; check the layer geometry"
    : status == dnnl_out_of_memory
      ? "reduce the batch size or free memory" : "check the arguments of this call"
  throw EngineError(
    code: .dnnlFailure, layer: layer, status: raw, message: "\(call()) failed; \(hint)")
}
