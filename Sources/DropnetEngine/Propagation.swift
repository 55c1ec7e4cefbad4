import CDNNL

/// Whether a forward primitive serves inference only or a later backward pass.
public enum Propagation: Sendable {
  /// Inference: oneDNN may skip saving what a backward pass would need.
  case inference
  /// Training: the forward pass keeps what the backward pass reads (e.g. pooling workspace).
  case training

  var dnnlValue: dnnl_prop_kind_t {
    switch self {
    case .inference: dnnl_forward_inference
    case .training: dnnl_forward_training
    }
  }
}
