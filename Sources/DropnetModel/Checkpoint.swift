import DropnetArchitecture
import DropnetStorage
import Foundation

/// Network weights plus what is needed to use them (architecture, preprocessing, class
/// labels, provenance), stored as a safetensors file with F32 tensors.
public struct Checkpoint: Sendable, Equatable {
  /// Weights by TF-slim name, in TensorFlow layouts (see `MobileNetV1Architecture`).
  public var tensors: [String: HostTensor]
  /// What the weights are and where they came from.
  public var metadata: CheckpointMetadata

  /// Creates a checkpoint from tensors and metadata.
  public init(tensors: [String: HostTensor], metadata: CheckpointMetadata) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Reads and validates the checkpoint at `url`.
  public static func read(from url: URL) throws -> Checkpoint {
    let bytes = try ModelFile.read(url, kind: "checkpoint")
    return try Checkpoint(serialized: bytes, file: url.path)
  }

  /// Parses checkpoint bytes; `file` names the source in errors.
  public init(serialized bytes: Data, file: String) throws {
    let container = try SafetensorsFile(decoding: bytes, file: file)
    self.tensors = container.tensors
    self.metadata = try CheckpointMetadata(entries: container.metadata, file: file)
  }

  /// The safetensors bytes of this checkpoint.
  public func serialized() throws -> Data {
    let entries = try metadata.entries(file: "<memory>")
    return try SafetensorsFile(tensors: tensors, metadata: entries).encoded()
  }

  /// Writes the checkpoint to `url` atomically (temporary file, fsync, rename, fsync folder):
  /// a reader never sees a partial checkpoint, even after a crash.
  public func write(to url: URL) throws {
    let entries = try metadata.entries(file: url.path)
    let bytes = try SafetensorsFile(tensors: tensors, metadata: entries).encoded()
    do {
      try AtomicFile.write(bytes, to: url)
    } catch {
      throw ModelError(code: .writeFailed, file: url.path, message: "\(error)")
    }
  }
}
