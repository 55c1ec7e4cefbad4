import Crypto
import DropnetArchitecture
import Foundation

/// Turns a TensorFlow frozen GraphDef of ImageNet MobileNet v1 1.0/224 (TF-slim variable
/// names, e.g. the official `mobilenet_v1_1.0_224_frozen.pb` or the graph fetched by
/// examples/fetch-weights.sh) into a dropnet checkpoint.
public enum WeightsImporter {
  /// Metadata key listing layers whose BatchNorm/gamma was absent and set to ones.
  public static let defaultedGammaKey = "imported_gamma_defaulted_to_ones"
  /// Metadata key holding the batch-norm epsilon found in the graph, when there is one.
  public static let batchNormEpsilonKey = "imported_batchnorm_epsilon"

  /// Reads the graph at `url`, checks that every tensor of `MobileNetV1Architecture.tensorShapes()` is
  /// there with its expected shape (one error listing every problem otherwise), and returns
  /// a checkpoint whose labels are `ImageNetLabels.withBackground`.
  ///
  /// A missing `.../BatchNorm/gamma` (graphs built with `scale=False`) is accepted as ones and
  /// recorded under `defaultedGammaKey` in the metadata.
  public static func importGraph(at url: URL) throws -> Checkpoint {
    let bytes = try ModelFile.read(url, kind: "TensorFlow graph")
    let checkpoint = try importGraph(
      serialized: bytes, file: url.path, sourceFileName: url.lastPathComponent)
    return checkpoint
  }

  /// Like `importGraph(at:)` for bytes already in memory; `file` names them in errors.
  public static func importGraph(
    serialized bytes: Data, file: String, sourceFileName: String
  ) throws -> Checkpoint {
    let graph = try FrozenGraph(decoding: bytes, file: file)
    let constants = graph.constants()

    var tensors: [String: HostTensor] = [:]
    var defaultedGammas: [String] = []
    var missing: [String] = []
    var misshapen: [String] = []
    for spec in MobileNetV1Architecture.tensorShapes() {
      guard let proto = constants[spec.name] else {
        if spec.name.hasSuffix("/BatchNorm/gamma") {
          // TF-slim's batch norm defaults to scale=False for some models: no gamma variable
          // exists and the layer behaves as if gamma were all ones.
          let count = spec.shape.reduce(1, *)
          tensors[spec.name] = HostTensor(
            shape: spec.shape, values: [Float](repeating: 1, count: count))
          defaultedGammas.append(String(spec.name.dropLast("/BatchNorm/gamma".count)))
        } else {
          missing.append("\(spec.name) \(spec.shape)")
        }
        continue
      }
      let shape = FrozenGraph.shape(of: proto)
      guard shape == spec.shape else {
        misshapen.append("\(spec.name) is \(shape), expected \(spec.shape)")
        continue
      }
      tensors[spec.name] = try graph.floatTensor(named: spec.name, proto)
    }
    guard missing.isEmpty, misshapen.isEmpty else {
      var parts: [String] = []
      if !missing.isEmpty {
        parts.append("\(missing.count) missing: " + missing.joined(separator: ", "))
      }
      if !misshapen.isEmpty {
        parts.append(
          "\(misshapen.count) with the wrong shape: " + misshapen.joined(separator: ", "))
      }
      throw ModelError(
        code: missing.isEmpty ? .wrongShape : .missingTensor, file: file,
        message: "this graph is not an ImageNet MobileNet v1 1.0/224 with TF-slim names ("
          + parts.joined(separator: "; ") + "); use a float frozen graph such as the one "
          + "examples/fetch-weights.sh downloads")
    }

    var extra: [String: String] = [:]
    if !defaultedGammas.isEmpty {
      extra[defaultedGammaKey] = defaultedGammas.joined(separator: ",")
    }
    if let epsilon = try batchNormEpsilon(in: graph, constants) {
      extra[batchNormEpsilonKey] = String(epsilon)
    }
    let metadata = CheckpointMetadata(
      architecture: MobileNetV1Architecture.identifier,
      preprocessing: ImagePreprocessor.identifier,
      classLabels: ImageNetLabels.withBackground,
      sourceFileName: sourceFileName,
      sourceSHA256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
      extra: extra)
    return Checkpoint(tensors: tensors, metadata: metadata)
  }

  /// The epsilon TF-slim's unfused batch norm adds to the variance (Const
  /// `.../BatchNorm/batchnorm/add/y`), if the graph has such constants and they all agree.
  private static func batchNormEpsilon(
    in graph: FrozenGraph, _ constants: [String: Tensorflow_TensorProto]
  ) throws -> Float? {
    var found: Set<Float> = []
    for (name, proto) in constants where name.hasSuffix("/BatchNorm/batchnorm/add/y") {
      guard let value = try graph.floatTensor(named: name, proto).values.first else { continue }
      found.insert(value)
    }
    return found.count == 1 ? found.first : nil
  }
}
